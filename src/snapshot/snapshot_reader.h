// SnapshotReader: streams and verifies a snapshot file (docs/formats.md).
// Every entry's checksum is checked as it is read; at the end the trailer's
// entry count and whole-file checksum are checked. Plain blocking reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "snapshot/snapshot_format.h"
#include "util/checksum.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::snapshot {

class SnapshotReader {
 public:
  // Opens `path` and decodes its header. Corruption if the header is bad.
  static Result<std::unique_ptr<SnapshotReader>> Open(Env* env, const std::string& path);

  const SnapshotMeta& meta() const { return meta_; }

  // Reads the next entry into *entry (valid until the next call) and sets
  // *done = false; at the trailer verifies it and sets *done = true. Any bad
  // byte, early end of file or bytes after the trailer is Corruption naming
  // the file and the byte offset. Once Corruption or done, don't call again.
  Status Next(std::string_view* entry, bool* done);

  // Bytes verified so far: the end of the last entry (or header) returned,
  // or the file size once done.
  uint64_t offset() const { return offset_; }
  uint64_t entries_read() const { return entries_read_; }

 private:
  SnapshotReader(std::unique_ptr<File> file, uint64_t size) : file_(std::move(file)), size_(size) {}
  // Makes at least n unread bytes available in buf_.
  Status Fill(size_t n);
  Status Error(const std::string& what) const;
  std::string_view Consume(size_t n);

  std::unique_ptr<File> file_;
  uint64_t size_;
  SnapshotMeta meta_;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t file_pos_ = 0;  // next byte to read from the file
  uint64_t offset_ = 0;    // bytes consumed (verified)
  uint64_t entries_read_ = 0;
  StreamingChecksum checksum_;
};

// Reads the whole file and verifies it. Fills *meta (if not null) when OK.
Status VerifySnapshotFile(Env* env, const std::string& path, SnapshotMeta* meta = nullptr);

}  // namespace tandem::snapshot
