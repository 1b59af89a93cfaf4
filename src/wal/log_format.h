// On-disk format of write-ahead-log segments (docs/formats.md, "Write-ahead
// log"). Pure encode/decode functions: no I/O, so the recovery scanner can be
// fuzzed on arbitrary bytes.
//
// Segment file = SegmentHeader (32 bytes) followed by records:
//   SegmentHeader: magic "TNDMWAL1"(8) | version u32 | first_index u64 |
//                  prev_term u64 | header_checksum u32 (over bytes 0..28)
//   Record:        length u32 (payload bytes) | length_check u32 |
//                  checksum u64 (over bytes 16.. of the record) |
//                  type u8 | term u64 | index u64 | payload
// All integers little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::wal {

inline constexpr char kSegmentMagic[8] = {'T', 'N', 'D', 'M', 'W', 'A', 'L', '1'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kRecordHeaderSize = 33;
// Largest payload a record may carry; larger lengths are rejected as corrupt.
inline constexpr uint32_t kMaxPayloadSize = 512u << 20;

// A log entry's kind. Opaque to the log except for its range: the server and
// replication layers assign meanings (e.g. state-machine command, no-op,
// configuration).
using EntryType = uint8_t;

// A decoded entry whose payload points into a buffer owned elsewhere.
struct EntryView {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = 0;
  std::string_view payload;
};

struct SegmentHeader {
  uint64_t first_index = 0;  // index of the first record in the segment
  uint64_t prev_term = 0;    // term of entry first_index-1 (0 = none/unknown)
};

void EncodeSegmentHeader(const SegmentHeader& header, std::string* dst);
enum class HeaderDecode { kOk, kTooShort, kBadMagic, kBadVersion, kBadChecksum };
HeaderDecode DecodeSegmentHeader(std::string_view data, SegmentHeader* out);

inline size_t EncodedRecordSize(size_t payload_size) { return kRecordHeaderSize + payload_size; }
// Appends one record to *dst (no per-call allocation beyond dst growth).
void AppendRecord(const EntryView& entry, std::string* dst);

enum class RecordDecode {
  kOk,
  kTruncatedHeader,   // fewer than kRecordHeaderSize bytes left
  kBadLength,         // length_check mismatch or length > kMaxPayloadSize
  kTruncatedPayload,  // header valid, but the payload runs past the data
  kBadChecksum,       // record complete, checksum mismatch
};
const char* RecordDecodeName(RecordDecode result);

// Decodes the record at the front of `data`. On kOk fills *entry (payload
// points into data) and *record_size. On kTruncatedPayload, *record_size is
// the size the header claims.
RecordDecode DecodeRecord(std::string_view data, EntryView* entry, size_t* record_size);

// Outcome of scanning a whole segment image (ScanSegment).
struct SegmentScan {
  enum class Tail {
    kClean,      // every byte after the header is a valid record
    kZeroTail,   // valid records, then only zero bytes to the end (preallocated space)
    kTorn,       // bytes after valid_end look like an interrupted write
    kCorrupt,    // a bad record followed by more data, or a sequence error
    kBadHeader,  // the segment header itself is invalid
  };
  Tail tail = Tail::kClean;
  SegmentHeader header;
  uint64_t record_count = 0;
  uint64_t last_index = 0;    // header.first_index - 1 when there are no records
  uint64_t last_term = 0;     // header.prev_term when there are no records
  uint64_t valid_end = 0;     // byte offset just past the last valid record
  uint64_t error_offset = 0;  // where the tail starts (kZeroTail/kTorn/kCorrupt/kBadHeader)
  std::string error;          // human-readable description (empty when kClean)
};

// Scans a segment image: validates the header, then records in order,
// checking that indexes are consecutive from header.first_index and terms
// never decrease (starting from header.prev_term). `on_entry` (may be null)
// is called for each valid record with its byte offset, in order; it must
// not retain the payload view beyond `data`'s lifetime.
//
// Classification of the first invalid record at offset X (see
// docs/formats.md, "Recovery rules"). Let Z be the offset from which every
// byte to the end is zero (the end of the data, as the writer preallocates
// segments with zeros; Z = end of the image if its last byte is not zero):
//   kZeroTail - Z <= X: only zeros follow the last valid record.
//   kTorn     - the bytes from X to Z cannot be a complete valid record
//               followed by more data: fewer than a record header's bytes, a
//               payload that runs past the end of the image, or a checksum
//               failure on a record that ends at or after Z. (The rules for an
//               image that ends at Z, applied to one that has zeros after Z.)
//   kCorrupt  - anything else (e.g. a flipped bit in a record followed by
//               other records, an index gap, a term going backwards).
// Whether a zero or torn tail is acceptable (a torn one only in the last
// segment) is the caller's decision.
template <typename OnEntry>
SegmentScan ScanSegment(std::string_view data, OnEntry&& on_entry);
SegmentScan ScanSegment(std::string_view data);

// Implementation detail of the template above: scans and reports entries
// through a function pointer + context.
using EntryCallback = void (*)(void* ctx, const EntryView& entry, uint64_t offset);
SegmentScan ScanSegmentImpl(std::string_view data, EntryCallback callback, void* ctx);

template <typename OnEntry>
SegmentScan ScanSegment(std::string_view data, OnEntry&& on_entry) {
  using Fn = std::remove_reference_t<OnEntry>;
  return ScanSegmentImpl(
      data,
      [](void* ctx, const EntryView& entry, uint64_t offset) {
        (*static_cast<Fn*>(ctx))(entry, offset);
      },
      &on_entry);
}

// "00000000000000000042.log" for first index 42.
std::string SegmentFileName(uint64_t first_index);
// Parses a segment file name; false for anything else (e.g. "*.tmp").
bool ParseSegmentFileName(std::string_view name, uint64_t* first_index);

}  // namespace tandem::wal
