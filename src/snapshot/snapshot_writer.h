// SnapshotWriter: writes a snapshot file atomically. Entries go to
// "<final name>.tmp"; Finish() appends the trailer, fsyncs, renames to
// "snapshot-<index>-<term>.snap", fsyncs the directory and prunes older
// snapshots. Data is synced every 16 MiB on the way (the final fsync then
// has little left to flush). Plain blocking calls and no threads, so it can run in a
// fork()ed child (BGSAVE-style) with PosixEnv.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "snapshot/snapshot_format.h"
#include "util/checksum.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::snapshot {

class SnapshotWriter {
 public:
  // Creates dir if needed and starts dir/<name>.tmp (replacing a leftover).
  static Result<std::unique_ptr<SnapshotWriter>> Create(Env* env, const std::string& dir,
                                                        const SnapshotMeta& meta);
  // Deletes the .tmp file unless Finish() succeeded.
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // Adds one opaque entry (<= kMaxEntrySize bytes). Buffered; writes in
  // large chunks. An error leaves the writer unusable (call nothing else).
  Status Add(std::string_view entry);
  // Adds `count` entries already framed (snapshot_format.h: the bytes
  // AppendSnapshotEntry produces), written without another copy.
  Status AddFramed(std::string_view entries, uint64_t count);

  // Completes the file and installs it (see the file comment), then deletes
  // all but the newest `keep` snapshots (keep >= 1). Returns the final path.
  // If it fails the .tmp is deleted and no older snapshot is touched.
  Result<std::string> Finish(size_t keep = 2);

  uint64_t entries() const { return entries_; }

 private:
  SnapshotWriter(Env* env, std::string dir, std::string final_name, std::unique_ptr<File> file)
      : env_(env),
        dir_(std::move(dir)),
        final_name_(std::move(final_name)),
        file_(std::move(file)) {}
  Status FlushBuffer();
  // Checksums and appends bytes, syncing every kSyncEveryBytes.
  Status WriteOut(std::string_view bytes);
  std::string TmpPath() const;

  Env* env_;
  std::string dir_;
  std::string final_name_;
  std::unique_ptr<File> file_;
  std::string buf_;
  StreamingChecksum checksum_;
  uint64_t entries_ = 0;
  uint64_t unsynced_bytes_ = 0;  // written since the last sync
  bool finished_ = false;
};

}  // namespace tandem::snapshot
