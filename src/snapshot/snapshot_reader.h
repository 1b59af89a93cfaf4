// SnapshotReader: streams and verifies a snapshot file (docs/formats.md):
// a SnapshotDecoder fed by plain blocking reads of the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "snapshot/snapshot_decoder.h"
#include "snapshot/snapshot_format.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::snapshot {

class SnapshotReader {
 public:
  // Opens `path` and decodes its header. Corruption if the header is bad.
  static Result<std::unique_ptr<SnapshotReader>> Open(Env* env, const std::string& path);

  const SnapshotMeta& meta() const { return decoder_.meta(); }

  // Reads the next entry into *entry (valid until the next call) and sets
  // *done = false; at the trailer verifies it and sets *done = true. Any bad
  // byte, early end of file or bytes after the trailer is Corruption naming
  // the file and the byte offset. Once Corruption or done, don't call again.
  Status Next(std::string_view* entry, bool* done);

  // Bytes verified so far: the end of the last entry (or header) returned,
  // or the file size once done.
  uint64_t offset() const { return decoder_.offset(); }
  uint64_t entries_read() const { return decoder_.entries_read(); }

 private:
  SnapshotReader(std::unique_ptr<File> file, uint64_t size)
      : file_(std::move(file)), size_(size), decoder_(file_->path()) {}
  // Decodes the next step, reading from the file as the decoder needs.
  Status Step(std::string_view* entry, SnapshotDecoder::Step* step);

  std::unique_ptr<File> file_;
  uint64_t size_;
  uint64_t file_pos_ = 0;  // next byte to read from the file
  SnapshotDecoder decoder_;
};

// Reads the whole file and verifies it. Fills *meta (if not null) when OK.
Status VerifySnapshotFile(Env* env, const std::string& path, SnapshotMeta* meta = nullptr);

}  // namespace tandem::snapshot
