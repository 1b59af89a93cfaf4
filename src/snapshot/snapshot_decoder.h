// SnapshotDecoder: decodes and verifies the bytes of a snapshot file
// (docs/formats.md, "Snapshot file") fed to it in order, whatever they come
// from: a file read in blocks (SnapshotReader) or a transfer as its chunks
// arrive (a follower loading a snapshot while receiving it). The header's
// checksum, every entry's checksum, and at the trailer the entry count and
// the whole-file checksum are checked as the bytes come.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "snapshot/snapshot_format.h"
#include "util/checksum.h"
#include "util/env.h"
#include "util/result.h"
#include "util/status.h"

namespace tandem::snapshot {

class SnapshotDecoder {
 public:
  // `name` identifies the bytes in error messages (a path).
  explicit SnapshotDecoder(std::string name) : name_(std::move(name)) {}

  // The next bytes: Append copies them; AppendSpace(n) returns room for n
  // bytes at the end (valid until the next call of any method) and
  // Appended(got) keeps the first got <= n of them (a file read into it).
  // Either invalidates the entry the last Next returned.
  void Append(std::string_view bytes);
  std::span<char> AppendSpace(size_t n);
  void Appended(size_t got);
  // Appends up to n bytes of `file` read at `offset`; returns how many
  // (fewer only at the end of the file).
  Result<size_t> AppendFromFile(File& file, uint64_t offset, size_t n);

  enum class Step {
    kHeader,    // the header verified: meta() is set (once, first)
    kEntry,     // *entry holds the next entry's bytes, valid until the next call
    kNeedMore,  // at least need() more bytes are required to go on
    kDone,      // the trailer verified; nothing may follow it
  };
  // Decodes what the bytes appended so far allow. Corruption (naming the
  // bytes and the offset) for any bad byte, and for bytes appended after
  // the trailer; after Corruption or kDone, don't call again (except that
  // kDone may be asked again, which checks for bytes after the trailer).
  Status Next(std::string_view* entry, Step* step);

  // Bytes required beyond those buffered after kNeedMore (>= 1).
  size_t need() const { return need_; }
  const SnapshotMeta& meta() const { return meta_; }
  bool header_done() const { return header_done_; }
  bool done() const { return done_; }
  // Bytes verified so far: the end of the last entry (or header) returned,
  // or the end of the trailer once done.
  uint64_t offset() const { return offset_; }
  uint64_t entries_read() const { return entries_read_; }

  // Corruption naming the bytes and the current offset.
  Status Error(const std::string& what) const;

 private:
  size_t buffered() const { return buf_.size() - pos_; }
  // Step kNeedMore for n buffered bytes in all.
  Status NeedMore(size_t n, Step* step);
  std::string_view Consume(size_t n);

  std::string name_;
  SnapshotMeta meta_;
  std::string buf_;
  size_t pos_ = 0;          // first unconsumed byte of buf_
  size_t space_from_ = 0;   // where AppendSpace's room began
  size_t need_ = 0;
  uint64_t offset_ = 0;
  uint64_t entries_read_ = 0;
  bool header_done_ = false;
  bool done_ = false;
  StreamingChecksum checksum_;
};

}  // namespace tandem::snapshot
