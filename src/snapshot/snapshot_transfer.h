// Chunked transfer of a finished snapshot file to a follower (wire framing
// of chunks: docs/formats.md, "Snapshot transfer"). The sender reads the file
// in (offset, bytes, checksum) chunks; the receiver writes them at their
// offsets into "<name>.recv", can resume after a broken connection from the
// last verified byte, verifies the whole file and installs it atomically.
// The network itself is the caller's business.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "snapshot/snapshot_format.h"
#include "snapshot/snapshot_store.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::snapshot {

struct SnapshotChunk {
  uint64_t offset = 0;
  std::string data;
  uint32_t checksum = 0;  // ChunkChecksum(offset, data)
};
// XXH3-64 of data seeded with the offset, low 32 bits.
uint32_t ChunkChecksum(uint64_t offset, std::string_view data);

// Identifies a transfer; the sender announces it before the first chunk.
struct SnapshotOffer {
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  uint64_t total_size = 0;  // bytes of the snapshot file
};

class SnapshotChunkSource {
 public:
  // Opens a completed snapshot (its header is checked, not the whole file).
  static Result<std::unique_ptr<SnapshotChunkSource>> Open(Env* env, const std::string& path);
  const SnapshotOffer& offer() const { return offer_; }
  // Up to max_bytes (>= 1) from offset; empty data at or past the end.
  Result<SnapshotChunk> ReadChunk(uint64_t offset, size_t max_bytes);

 private:
  SnapshotChunkSource(std::unique_ptr<File> file, SnapshotOffer offer)
      : file_(std::move(file)), offer_(offer) {}
  std::unique_ptr<File> file_;
  SnapshotOffer offer_;
};

class SnapshotReceiver {
 public:
  // Starts or resumes receiving `offer` into dir. A "*.recv" file for the
  // same offer is kept up to its last verified entry (a torn or unverifiable
  // tail is cut off); receive files of other offers are deleted.
  static Result<std::unique_ptr<SnapshotReceiver>> Open(Env* env, const std::string& dir,
                                                        const SnapshotOffer& offer);

  // The file the bytes go to until Finish ("<name>.recv").
  std::string path() const { return RecvPath(); }
  // Where the sender should (re)start.
  uint64_t next_offset() const { return next_offset_; }
  bool complete() const { return next_offset_ == offer_.total_size; }

  // Writes a chunk. Corruption if its checksum is wrong (ask for it again);
  // a chunk wholly before next_offset() is a harmless duplicate (OK, ignored);
  // a chunk starting after next_offset() or running past total_size is
  // InvalidArgument. Overlap with already-received bytes is skipped. Every
  // kWritebackBytes received, the disk starts writing them, up to the last
  // whole page (File::StartWriteback), so Finish's fsync does not flush the
  // whole file at once (that fsync took 0.27-0.33 s of a ~300 MB snapshot
  // on a follower's loop, 0.07-0.17 s with this).
  Status WriteChunk(const SnapshotChunk& chunk);
  static constexpr uint64_t kWritebackBytes = 8u << 20;

  // Deletes what was received: the next Open of this offer starts at byte
  // 0. For a stream from another sender: another node's snapshot at the
  // same index and term holds the same state in another entry order (and
  // header), and bytes of the two must not be mixed (Finish would find the
  // file corrupt, and the transfer would start over then).
  Status Discard();

  // When complete(): fsyncs, verifies the whole file (Corruption: the .recv
  // file is deleted so the transfer restarts at 0), renames it to its final
  // name, fsyncs dir and prunes to `keep` snapshots. The caller then loads it
  // and calls wal::Log::Reset(last_index + 1, last_term). `verified`: the
  // caller has decoded and verified the whole receive file (a
  // SnapshotDecoder reading it back as it grew, StagedSnapshotLoad) and
  // this is the header it found; the file is not read again (0.1 s per 300
  // MB on a follower's loop). The header must still match the offer.
  Result<SnapshotInfo> Finish(size_t keep = 2, const SnapshotMeta* verified = nullptr);

 private:
  SnapshotReceiver(Env* env, std::string dir, SnapshotOffer offer)
      : env_(env), dir_(std::move(dir)), offer_(offer) {}
  std::string RecvPath() const;

  Env* env_;
  std::string dir_;
  SnapshotOffer offer_;
  std::unique_ptr<File> file_;
  uint64_t next_offset_ = 0;
  uint64_t writeback_from_ = 0;  // received bytes before it: writeback started
};

}  // namespace tandem::snapshot
