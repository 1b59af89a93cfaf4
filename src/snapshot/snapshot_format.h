// On-disk format of snapshot files (docs/formats.md, "Snapshot file").
//
//   header:  magic "TNDMSNP1"(8) | version u32 | last_index u64 |
//            last_term u64 | created_unix_ms i64 | metadata_len u32 |
//            metadata | header_checksum u32 (over everything before it)
//   entries: length u32 | checksum u32 (XXH3-64 of the entry bytes seeded
//            with the length, low 32 bits) | entry bytes
//   trailer: marker u32 = 0xFFFFFFFF | reserved u32 = 0 | entry_count u64 |
//            file_checksum u64 (XXH3-64 of every byte before this field)
// All integers little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace tandem::snapshot {

inline constexpr char kSnapshotMagic[8] = {'T', 'N', 'D', 'M', 'S', 'N', 'P', '1'};
inline constexpr uint32_t kSnapshotVersion = 1;
inline constexpr size_t kFixedHeaderSize = 40;  // before metadata
inline constexpr uint32_t kMaxMetadataSize = 16u << 20;
inline constexpr size_t kEntryHeaderSize = 8;
inline constexpr uint32_t kMaxEntrySize = 512u << 20;
inline constexpr uint32_t kTrailerMarker = 0xFFFFFFFFu;
inline constexpr size_t kTrailerSize = 24;

// What a snapshot covers and carries besides the entries.
struct SnapshotMeta {
  uint64_t last_index = 0;  // last log index included in the state
  uint64_t last_term = 0;   // term of that entry
  int64_t created_unix_ms = 0;
  std::string metadata;  // opaque to this layer (cluster membership, ...)
};

void EncodeSnapshotHeader(const SnapshotMeta& meta, std::string* dst);
// Decodes a header from the front of data. *header_size is set when OK.
// Corruption for bad magic/version/checksum; NotFound-free: a short buffer
// gives Corruption("truncated header") with *need set to the bytes required
// (0 if unknown) so a streaming reader can fetch more.
Status DecodeSnapshotHeader(std::string_view data, SnapshotMeta* meta, size_t* header_size,
                            size_t* need);

// Appends one entry (length, checksum, bytes).
void AppendSnapshotEntry(std::string_view entry, std::string* dst);
uint32_t SnapshotEntryChecksum(std::string_view entry);

// The same entries framed in place, in two steps on two threads (fork-free
// snapshots encode on the event loop and checksum on the writer thread):
// StartFramedEntry appends a blank header and returns its offset; the
// caller appends the entry bytes; EndFramedEntry writes the length
// (InvalidArgument, and the partial entry removed, above kMaxEntrySize).
// Later ChecksumFramedEntries fills in the checksum of every entry of a
// buffer of such entries and returns how many it holds (Corruption when the
// lengths do not walk the buffer exactly). The result is the bytes
// AppendSnapshotEntry would have produced.
size_t StartFramedEntry(std::string* dst);
Status EndFramedEntry(std::string* dst, size_t header_offset);
Status ChecksumFramedEntries(std::string* entries, uint64_t* count);

// "snapshot-<index 20 digits>-<term 20 digits>.snap"
std::string SnapshotFileName(uint64_t last_index, uint64_t last_term);
bool ParseSnapshotFileName(std::string_view name, uint64_t* last_index, uint64_t* last_term);
// Suffix of a snapshot being written locally (deleted at startup) and of one
// being received from the leader (kept so the transfer can resume).
inline constexpr std::string_view kWriteTmpSuffix = ".tmp";
inline constexpr std::string_view kReceiveTmpSuffix = ".recv";

}  // namespace tandem::snapshot
