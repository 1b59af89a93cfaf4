#include "wal/log_format.h"

#include <cstdio>
#include <cstring>

#include "util/checksum.h"
#include "util/coding.h"

namespace tandem::wal {

namespace {

constexpr uint64_t kLengthCheckSeed = 0x4c454e47;  // "LENG"
constexpr uint64_t kHeaderCheckSeed = 0x48454144;  // "HEAD"

uint32_t LengthCheck(const char* length_bytes) {
  return Checksum32(std::string_view(length_bytes, 4), kLengthCheckSeed);
}

std::string Describe(RecordDecode result, uint64_t offset) {
  return std::string(RecordDecodeName(result)) + " at offset " + std::to_string(offset);
}

}  // namespace

void EncodeSegmentHeader(const SegmentHeader& header, std::string* dst) {
  char buf[kSegmentHeaderSize];
  std::memcpy(buf, kSegmentMagic, 8);
  EncodeFixed32(buf + 8, kFormatVersion);
  EncodeFixed64(buf + 12, header.first_index);
  EncodeFixed64(buf + 20, header.prev_term);
  EncodeFixed32(buf + 28, Checksum32(std::string_view(buf, 28), kHeaderCheckSeed));
  dst->append(buf, sizeof(buf));
}

HeaderDecode DecodeSegmentHeader(std::string_view data, SegmentHeader* out) {
  if (data.size() < kSegmentHeaderSize) return HeaderDecode::kTooShort;
  if (std::memcmp(data.data(), kSegmentMagic, 8) != 0) return HeaderDecode::kBadMagic;
  if (DecodeFixed32(data.data() + 28) != Checksum32(data.substr(0, 28), kHeaderCheckSeed)) {
    return HeaderDecode::kBadChecksum;
  }
  if (DecodeFixed32(data.data() + 8) != kFormatVersion) return HeaderDecode::kBadVersion;
  out->first_index = DecodeFixed64(data.data() + 12);
  out->prev_term = DecodeFixed64(data.data() + 20);
  return HeaderDecode::kOk;
}

void AppendRecord(const EntryView& entry, std::string* dst) {
  char header[kRecordHeaderSize];
  EncodeFixed32(header, static_cast<uint32_t>(entry.payload.size()));
  EncodeFixed32(header + 4, LengthCheck(header));
  EncodeFixed64(header + 8, 0);  // checksum, patched below
  header[16] = static_cast<char>(entry.type);
  EncodeFixed64(header + 17, entry.term);
  EncodeFixed64(header + 25, entry.index);
  size_t start = dst->size();
  dst->append(header, kRecordHeaderSize);
  dst->append(entry.payload);
  char* p = dst->data() + start;
  EncodeFixed64(p + 8, Checksum64(std::string_view(p + 16, 17 + entry.payload.size())));
}

const char* RecordDecodeName(RecordDecode result) {
  switch (result) {
    case RecordDecode::kOk:
      return "ok";
    case RecordDecode::kTruncatedHeader:
      return "truncated record header";
    case RecordDecode::kBadLength:
      return "bad record length";
    case RecordDecode::kTruncatedPayload:
      return "truncated record payload";
    case RecordDecode::kBadChecksum:
      return "record checksum mismatch";
  }
  return "unknown";
}

RecordDecode DecodeRecord(std::string_view data, EntryView* entry, size_t* record_size) {
  if (data.size() < kRecordHeaderSize) return RecordDecode::kTruncatedHeader;
  const char* p = data.data();
  uint32_t length = DecodeFixed32(p);
  if (DecodeFixed32(p + 4) != LengthCheck(p) || length > kMaxPayloadSize) {
    return RecordDecode::kBadLength;
  }
  *record_size = EncodedRecordSize(length);
  if (data.size() < *record_size) return RecordDecode::kTruncatedPayload;
  if (DecodeFixed64(p + 8) != Checksum64(std::string_view(p + 16, 17 + length))) {
    return RecordDecode::kBadChecksum;
  }
  entry->type = static_cast<EntryType>(p[16]);
  entry->term = DecodeFixed64(p + 17);
  entry->index = DecodeFixed64(p + 25);
  entry->payload = std::string_view(p + kRecordHeaderSize, length);
  return RecordDecode::kOk;
}

SegmentScan ScanSegment(std::string_view data) { return ScanSegmentImpl(data, nullptr, nullptr); }

SegmentScan ScanSegmentImpl(std::string_view data, EntryCallback callback, void* ctx) {
  SegmentScan scan;
  HeaderDecode hd = DecodeSegmentHeader(data, &scan.header);
  if (hd != HeaderDecode::kOk) {
    scan.tail = SegmentScan::Tail::kBadHeader;
    scan.error_offset = 0;
    switch (hd) {
      case HeaderDecode::kTooShort:
        scan.error = "segment header truncated";
        break;
      case HeaderDecode::kBadMagic:
        scan.error = "bad segment magic";
        break;
      case HeaderDecode::kBadVersion:
        scan.error = "unsupported segment format version";
        break;
      case HeaderDecode::kBadChecksum:
        scan.error = "segment header checksum mismatch";
        break;
      case HeaderDecode::kOk:
        break;
    }
    return scan;
  }
  if (scan.header.first_index == 0) {
    scan.tail = SegmentScan::Tail::kBadHeader;
    scan.error = "segment header has first index 0";
    return scan;
  }
  scan.last_index = scan.header.first_index - 1;
  scan.last_term = scan.header.prev_term;
  uint64_t offset = kSegmentHeaderSize;
  scan.valid_end = offset;
  while (offset < data.size()) {
    std::string_view rest = data.substr(offset);
    EntryView entry;
    size_t record_size = 0;
    RecordDecode rd = DecodeRecord(rest, &entry, &record_size);
    if (rd != RecordDecode::kOk) {
      // Where the trailing zeros (preallocated, never written) begin.
      uint64_t zeros_from = data.size();
      while (zeros_from > offset && data[zeros_from - 1] == 0) --zeros_from;
      scan.error_offset = offset;
      if (zeros_from == offset) {
        scan.tail = SegmentScan::Tail::kZeroTail;
        scan.error = std::to_string(data.size() - offset) + " zero bytes (preallocated) at offset " +
                     std::to_string(offset);
        return scan;
      }
      bool torn = zeros_from - offset < kRecordHeaderSize ||
                  rd == RecordDecode::kTruncatedPayload ||
                  (rd == RecordDecode::kBadChecksum && offset + record_size >= zeros_from);
      scan.tail = torn ? SegmentScan::Tail::kTorn : SegmentScan::Tail::kCorrupt;
      scan.error = Describe(rd, offset);
      if (torn && zeros_from < data.size()) {
        scan.error += ", then " + std::to_string(data.size() - zeros_from) +
                      " zero bytes (preallocated) to the end";
      }
      return scan;
    }
    if (entry.index != scan.last_index + 1 || entry.term < scan.last_term) {
      scan.tail = SegmentScan::Tail::kCorrupt;
      scan.error_offset = offset;
      scan.error = "record at offset " + std::to_string(offset) + " has index " +
                   std::to_string(entry.index) + " term " + std::to_string(entry.term) +
                   ", expected index " + std::to_string(scan.last_index + 1) +
                   " and term >= " + std::to_string(scan.last_term);
      return scan;
    }
    if (callback != nullptr) callback(ctx, entry, offset);
    ++scan.record_count;
    scan.last_index = entry.index;
    scan.last_term = entry.term;
    offset += record_size;
    scan.valid_end = offset;
  }
  return scan;
}

std::string SegmentFileName(uint64_t first_index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu.log", static_cast<unsigned long long>(first_index));
  return buf;
}

bool ParseSegmentFileName(std::string_view name, uint64_t* first_index) {
  if (name.size() != 24 || name.substr(20) != ".log") return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *first_index = v;
  return true;
}

}  // namespace tandem::wal
