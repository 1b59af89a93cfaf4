// Journal: the server's view of its write-ahead log. Appends state-machine
// records, flushes them once per loop turn (group commit) under the fsync
// policy, and remembers a disk failure so writes are refused until the disk
// works again.
//
// Two ways to flush: Flush() returns once the entries are durable (the loop
// waits for the disk); StartFlush() + FinishFlush() let the loop go on while
// the log's sync thread runs the fsync (replicated nodes: the leader reads
// acknowledgements and new requests meanwhile, a follower receives the next
// entries).
//
// "Durable" here means what the fsync policy promises: fsync'd for
// `always`, handed to the kernel for `everysec` (fsync'd within a second)
// and `no`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/config.h"
#include "util/env.h"
#include "util/status.h"

namespace tandem::wal {
class Log;
}

namespace tandem::server {

class Journal {
 public:
  struct Options {
    std::string dir;  // the log's directory (data-dir/wal)
    FsyncPolicy fsync = FsyncPolicy::kAlways;
    uint64_t segment_bytes = 64ull << 20;
    Env* env = nullptr;  // nullptr = the real file system
  };
  // Receives each recovered entry after the snapshot, in index order.
  using ReplayFn = std::function<Status(uint64_t index, std::string_view payload)>;

  Journal();
  ~Journal();

  // Opens (creating if needed) and recovers the log. A torn tail is cut off
  // and logged; any other damage is an error naming the file and offset.
  Status Open(const Options& options);
  // When the log is empty, makes its next index `next_index` (after loading
  // a snapshot whose index is next_index - 1).
  Status StartAt(uint64_t next_index);

  // Buffers one state-machine record as the next entry (single-node mode:
  // term 1) and returns its index. Not durable until Flush().
  uint64_t Append(std::string_view payload);

  // --- replicated mode: the replication core decides indexes and terms ---
  // Buffers an entry; index must be last_index() + 1.
  Status AppendEntry(uint64_t term, uint64_t index, uint8_t type, std::string_view payload);
  // Drops every entry after `index` (a conflicting suffix).
  Status TruncateAfter(uint64_t index);
  // Empties the log so that it continues at next_index (after installing a
  // snapshot that ends at next_index - 1 with term prev_term).
  Status ResetTo(uint64_t next_index, uint64_t prev_term);
  // Calls fn for every entry from `from` on, with its term and type.
  Status ForEachEntry(uint64_t from,
                      const std::function<Status(uint64_t term, uint64_t index, uint8_t type,
                                                 std::string_view payload)>& fn);
  // Entries from `from` on (at least one if any), stopping once their
  // payloads total max_bytes or after `to`; from memory or disk.
  Status ReadEntries(uint64_t from, uint64_t to, size_t max_bytes,
                     const std::function<void(uint64_t term, uint64_t index, uint8_t type,
                                              std::string payload)>& fn);
  uint64_t last_term() const;
  bool has_unflushed() const { return last_index() > durable_index(); }
  // Writes every buffered entry and fsyncs as the policy says. On failure
  // nothing new is durable, the journal is marked failed, and the caller
  // must Rollback().
  Status Flush(int64_t now_monotonic_ms);
  // Group commit without waiting for the disk: writes every buffered entry
  // and, under `always`, starts an fsync on the log's sync thread unless one
  // runs (entries written meanwhile wait for the next). durable_index()
  // moves when FinishFlush() applies it. Other policies: Flush(). On
  // failure the journal is marked failed, as for Flush.
  Status StartFlush(int64_t now_monotonic_ms);
  // Applies a finished background fsync (durable_index() moves on), or marks
  // the journal failed if it failed. Never blocks; OK if none finished.
  Status FinishFlush(int64_t now_monotonic_ms);
  bool flush_running() const;
  // `done` is called ON THE LOG'S SYNC THREAD whenever a background fsync
  // ends; it must only hand the news to the loop, which calls FinishFlush.
  // Set it to nullptr before `done`'s target goes away (waits for a running
  // fsync first).
  void SetFlushDone(std::function<void()> done);
  // Term of a durable or buffered entry (0 if outside the log).
  uint64_t TermAt(uint64_t index) const;
  // Flush plus an fsync whatever the policy (clean shutdown).
  Status FlushAndSync(int64_t now_monotonic_ms);
  // everysec: fsyncs if a second has passed since the last fsync.
  Status PeriodicSync(int64_t now_monotonic_ms);
  // Drops every entry that is not durable (after a failed Flush).
  Status Rollback();
  // Replays durable entries with index > after (state rebuilds).
  Status Replay(uint64_t after, const ReplayFn& replay);
  // Deletes log segments wholly covered by a snapshot at `index`.
  Status CompactUpTo(uint64_t index);

  // Disk failure state: set by a failed Flush, cleared by ClearFailure once
  // a probe write succeeds.
  bool failed() const { return !failure_.ok(); }
  const Status& failure() const { return failure_; }
  void ClearFailure() { failure_ = Status::Ok(); }

  uint64_t first_index() const;
  uint64_t last_index() const;
  uint64_t durable_index() const;
  uint64_t bytes_since_snapshot() const { return bytes_since_snapshot_; }
  // Flushes that made new entries durable since the journal was opened
  // (group commits: one write and, under `always`, one fsync each).
  uint64_t flushes() const { return flushes_; }
  void ResetBytesSinceSnapshot() { bytes_since_snapshot_ = 0; }
  // Counts `bytes` again: the log of a background snapshot that failed or
  // was abandoned is still not covered by one.
  void AddBytesSinceSnapshot(uint64_t bytes) { bytes_since_snapshot_ += bytes; }
  FsyncPolicy fsync_policy() const { return options_.fsync; }
  void set_fsync_policy(FsyncPolicy p);

 private:
  // A flush made entries up to `acked` what a client may see: counts it.
  void NoteFlushed(uint64_t acked, int64_t now_monotonic_ms);

  Options options_;
  std::unique_ptr<wal::Log> log_;
  Status failure_;
  uint64_t bytes_since_snapshot_ = 0;
  uint64_t flushes_ = 0;
  uint64_t acked_index_ = 0;  // highest index a client may see acknowledged
  uint64_t synced_index_ = 0;  // highest index fsync'd
  int64_t last_fsync_ms_ = 0;
};

}  // namespace tandem::server
