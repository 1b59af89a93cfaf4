// Fuzzes the WAL segment/record reader: arbitrary bytes as a segment file
// image must never crash, and the scanner's answers must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "wal/log_format.h"

using tandem::wal::DecodeRecord;
using tandem::wal::EntryView;
using tandem::wal::RecordDecode;
using tandem::wal::ScanSegment;
using tandem::wal::SegmentScan;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);

  uint64_t seen = 0;
  uint64_t payload_sum = 0;
  SegmentScan scan = ScanSegment(bytes, [&](const EntryView& e, uint64_t offset) {
    if (offset + tandem::wal::EncodedRecordSize(e.payload.size()) > bytes.size()) std::abort();
    for (char c : e.payload) payload_sum += static_cast<uint8_t>(c);  // touch every byte
    ++seen;
  });
  if (seen != scan.record_count) std::abort();
  if (scan.valid_end > bytes.size()) std::abort();
  if (scan.tail != SegmentScan::Tail::kBadHeader) {
    // The valid prefix must rescan cleanly to the same result.
    SegmentScan again = ScanSegment(bytes.substr(0, scan.valid_end));
    if (again.tail != SegmentScan::Tail::kClean || again.record_count != scan.record_count ||
        again.last_index != scan.last_index || again.last_term != scan.last_term) {
      std::abort();
    }
    if (scan.tail == SegmentScan::Tail::kClean && scan.valid_end != bytes.size()) std::abort();
  }

  // Raw record decoding without a segment header.
  std::string_view rest = bytes;
  while (!rest.empty()) {
    EntryView e;
    size_t record_size = 0;
    if (DecodeRecord(rest, &e, &record_size) != RecordDecode::kOk) break;
    if (record_size == 0 || record_size > rest.size()) std::abort();
    rest.remove_prefix(record_size);
  }
  return payload_sum == 0xFFFFFFFFFFFFFFFFull ? 1 : 0;
}
