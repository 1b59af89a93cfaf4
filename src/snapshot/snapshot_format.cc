#include "snapshot/snapshot_format.h"

#include <cstdio>
#include <cstring>

#include "util/checksum.h"
#include "util/coding.h"

namespace tandem::snapshot {

void EncodeSnapshotHeader(const SnapshotMeta& meta, std::string* dst) {
  size_t start = dst->size();
  dst->append(kSnapshotMagic, 8);
  PutFixed32(dst, kSnapshotVersion);
  PutFixed64(dst, meta.last_index);
  PutFixed64(dst, meta.last_term);
  PutFixed64(dst, static_cast<uint64_t>(meta.created_unix_ms));
  PutFixed32(dst, static_cast<uint32_t>(meta.metadata.size()));
  dst->append(meta.metadata);
  PutFixed32(dst, Checksum32(std::string_view(*dst).substr(start)));
}

Status DecodeSnapshotHeader(std::string_view data, SnapshotMeta* meta, size_t* header_size,
                            size_t* need) {
  *need = 0;
  if (data.size() < kFixedHeaderSize) {
    *need = kFixedHeaderSize;
    return Status::Corruption("truncated snapshot header");
  }
  if (std::memcmp(data.data(), kSnapshotMagic, 8) != 0) {
    return Status::Corruption("bad snapshot magic");
  }
  uint32_t metadata_len = DecodeFixed32(data.data() + 36);
  if (metadata_len > kMaxMetadataSize) return Status::Corruption("bad snapshot metadata length");
  size_t total = kFixedHeaderSize + metadata_len + 4;
  if (data.size() < total) {
    *need = total;
    return Status::Corruption("truncated snapshot header");
  }
  if (DecodeFixed32(data.data() + total - 4) != Checksum32(data.substr(0, total - 4))) {
    return Status::Corruption("snapshot header checksum mismatch");
  }
  uint32_t version = DecodeFixed32(data.data() + 8);
  if (version != kSnapshotVersion) {
    return Status::Corruption("unsupported snapshot version " + std::to_string(version));
  }
  meta->last_index = DecodeFixed64(data.data() + 12);
  meta->last_term = DecodeFixed64(data.data() + 20);
  meta->created_unix_ms = static_cast<int64_t>(DecodeFixed64(data.data() + 28));
  meta->metadata.assign(data.substr(kFixedHeaderSize, metadata_len));
  *header_size = total;
  return Status::Ok();
}

uint32_t SnapshotEntryChecksum(std::string_view entry) {
  return Checksum32(entry, /*seed=*/entry.size());
}

void AppendSnapshotEntry(std::string_view entry, std::string* dst) {
  PutFixed32(dst, static_cast<uint32_t>(entry.size()));
  PutFixed32(dst, SnapshotEntryChecksum(entry));
  dst->append(entry);
}

size_t StartFramedEntry(std::string* dst) {
  size_t offset = dst->size();
  dst->append(kEntryHeaderSize, '\0');
  return offset;
}

Status EndFramedEntry(std::string* dst, size_t header_offset) {
  size_t len = dst->size() - header_offset - kEntryHeaderSize;
  if (len > kMaxEntrySize) {
    dst->resize(header_offset);
    return Status::InvalidArgument("snapshot entry too large");
  }
  EncodeFixed32(dst->data() + header_offset, static_cast<uint32_t>(len));
  return Status::Ok();
}

Status ChecksumFramedEntries(std::string* entries, uint64_t* count) {
  *count = 0;
  size_t pos = 0;
  while (pos < entries->size()) {
    if (entries->size() - pos < kEntryHeaderSize) {
      return Status::Corruption("framed snapshot entries: truncated header");
    }
    uint32_t len = DecodeFixed32(entries->data() + pos);
    if (entries->size() - pos - kEntryHeaderSize < len) {
      return Status::Corruption("framed snapshot entries: length past the end");
    }
    std::string_view entry(entries->data() + pos + kEntryHeaderSize, len);
    EncodeFixed32(entries->data() + pos + 4, SnapshotEntryChecksum(entry));
    pos += kEntryHeaderSize + len;
    ++*count;
  }
  return Status::Ok();
}

std::string SnapshotFileName(uint64_t last_index, uint64_t last_term) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "snapshot-%020llu-%020llu.snap",
                static_cast<unsigned long long>(last_index),
                static_cast<unsigned long long>(last_term));
  return buf;
}

namespace {
bool ParseDigits(std::string_view s, uint64_t* out) {
  if (s.size() != 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}
}  // namespace

bool ParseSnapshotFileName(std::string_view name, uint64_t* last_index, uint64_t* last_term) {
  // snapshot- (9) + 20 + '-' + 20 + ".snap" (5) = 55
  if (name.size() != 55 || name.substr(0, 9) != "snapshot-" || name[29] != '-' ||
      name.substr(50) != ".snap") {
    return false;
  }
  return ParseDigits(name.substr(9, 20), last_index) && ParseDigits(name.substr(30, 20), last_term);
}

}  // namespace tandem::snapshot
