// Log: the durable, segmented write-ahead log. It is both the server's WAL
// (every write command is an entry, group-committed) and the replication
// layer's log store (append, read a range, term-at, truncate suffix, compact
// prefix, reset after a snapshot install). Format: docs/formats.md.
//
// Threading: one owner (the event loop) calls everything. The only other
// thread is the log's own sync thread, which runs the fdatasync of a
// background sync (below) and touches nothing else.
//
// Indexes: entries have consecutive indexes; terms never decrease. The log
// holds [first_index(), last_index()]; it is empty when last_index() ==
// first_index() - 1. TermAt(first_index() - 1) is also known (the term just
// before the log, stored in the first segment's header).
//
// Group commit and durability:
//   Append() only encodes into memory. Sync() writes everything appended so
//   far with one write() per segment touched and then, per SyncPolicy:
//     kAlways      fdatasync every Sync; Sync returns durable_index().
//     kEverySecond no fsync in Sync (returns written_index()); the owner calls
//                  MaybeSyncPeriodic(now_ms) from a timer and it fsyncs when
//                  at least `periodic_sync_ms` passed since the last fsync.
//                  The fsync runs on the calling thread.
//     kNever       never fsync; the OS flushes. durable_index() ==
//                  written_index().
//   The value Sync returns is the highest index the caller may acknowledge.
//
// Background sync (kAlways; a replicated node, so its loop keeps reading
//   acknowledgements and requests while the disk works):
//   StartBackgroundSync() writes like Sync() and, unless a background fsync
//   is already running, hands the fdatasync of everything written so far to
//   the log's sync thread and returns at once. When the fsync ends, the
//   callback given to SetBackgroundSyncDone() runs ON THE SYNC THREAD; the
//   owner then calls FinishBackgroundSync() on its own thread, which moves
//   durable_index() to what that fsync covered (or reports its failure, with
//   the same recovery as a failed Sync). Entries written while an fsync runs
//   wait for the next one: the owner starts it after finishing the previous.
//   While a background fsync runs, only Append, the writes of
//   StartBackgroundSync and reads happen on the owner's thread; every other
//   operation that touches the files (Sync, SyncAll, MaybeSyncPeriodic,
//   TruncateSuffix, CompactPrefix, Reset, set_sync_policy, rolling to a new
//   segment, the destructor) first waits for it to end and applies its
//   result itself (a failure is then reported by the next
//   FinishBackgroundSync).
//
// Preallocation: the tail segment's file is kept longer than its data by
//   writing zero bytes ahead of it (see kPreallocateStep; never past
//   segment_bytes unless one record is larger), so a group commit normally
//   overwrites existing zeros and its fdatasync need not write the inode
//   (the file size does not change). When the data reaches the end of the
//   zeros, the Sync that wrote it also writes the next zeros (extra pwrites
//   once per step). If the zeros do not fit (ENOSPC) the log keeps what was
//   written and goes on appending. When the log rolls to a new segment, the
//   old one is cut back to its last record (ftruncate, then fsync unless
//   kNever) before the new file is created. Recovery treats zeros after the
//   last valid record as preallocated space (docs/formats.md).
//
// Failure semantics: if a write, ftruncate or fsync fails (ENOSPC, EIO...),
// Sync returns the error (NoSpace / IOError) and nothing beyond the previous
// durable point is reported durable. Every entry after the last successful
// fsync stays in memory; the next Sync first cuts the segment file back to
// its last known-good size (dropping partial bytes) and rewrites everything
// from there, so once space returns a Sync succeeds and the file holds each
// entry exactly once, in order. After a failed fsync the page cache is not
// trusted: data written since the last successful fsync is rewritten.
// Entries stay readable (Read/TermAt) from memory meanwhile.
//
// Crash semantics: the destructor does NOT write buffered entries; entries not
// synced are lost exactly as in a crash.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "util/background_file_deleter.h"
#include "util/env.h"
#include "util/result.h"
#include "util/status.h"
#include "wal/log_format.h"

namespace tandem::wal {

enum class SyncPolicy { kAlways, kEverySecond, kNever };

// When the tail segment's data reaches the end of its file, the file is
// extended with written zeros to round_up(data end + kPreallocateStep,
// kPreallocateStep), but not past max(segment_bytes, data end).
inline constexpr uint64_t kPreallocateStep = 1u << 20;

struct LogOptions {
  // A segment is closed and a new one started when the next record would
  // push it past this size (a segment always holds at least one record).
  uint64_t segment_bytes = 64ull << 20;
  SyncPolicy sync_policy = SyncPolicy::kAlways;
  int64_t periodic_sync_ms = 1000;
  // Durable recent entries kept in memory so Read() of the tail does no I/O
  // (entries not yet durable are always in memory, regardless of this).
  size_t cache_bytes = 64u << 20;
};

// What Open() found and repaired. The server should log each truncation.
struct RecoveryReport {
  struct Truncation {
    std::string file;
    uint64_t offset = 0;  // new file size
    uint64_t bytes = 0;   // bytes cut off
    std::string reason;
  };
  size_t segments = 0;
  std::vector<Truncation> truncations;
};

// An entry owned by the caller (returned from Read).
struct LogEntry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = 0;
  std::string payload;
  EntryView view() const { return EntryView{term, index, type, payload}; }
};

class Log {
 public:
  // Opens (creating dir if needed) and recovers the log in `dir`:
  //  - scans every segment in index order and validates headers, records,
  //    index continuity and term order;
  //  - zero bytes after the last valid record of any segment are preallocated
  //    space: the file is cut back to its last record and nothing is
  //    reported;
  //  - a torn record (interrupted write, possibly followed by zeros) at the
  //    end of the LAST segment is cut off (file truncated) and listed in
  //    *report;
  //  - any other bad record, a bad header, a torn tail in a non-last segment,
  //    or a gap between segments fails with Corruption naming the file and
  //    byte offset. Nothing is modified in that case.
  // An empty dir gives an empty log starting at index 1 (see Reset).
  // Recovered entries are fsync'd once and count as durable.
  static Result<std::unique_ptr<Log>> Open(Env* env, std::string dir, LogOptions options,
                                           RecoveryReport* report = nullptr);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  uint64_t first_index() const { return segments_.front().first_index; }
  uint64_t last_index() const { return last_index_; }
  uint64_t last_term() const { return last_term_; }
  // Highest index fsync'd (see SyncPolicy for kNever).
  uint64_t durable_index() const { return durable_index_; }
  // Highest index handed to the OS with write().
  uint64_t written_index() const { return written_index_; }

  // Buffers entries in memory. Each must have index == last_index() + 1 and
  // term >= last_term(), payload <= kMaxPayloadSize; otherwise
  // InvalidArgument and nothing (from that entry on) is appended.
  Status Append(const EntryView& entry);
  Status Append(std::span<const EntryView> entries);
  Status Append(std::span<const LogEntry> entries);

  // Writes buffered entries and fsyncs per policy (see the file comment).
  // Returns the highest index the caller may acknowledge.
  Result<uint64_t> Sync();
  // Changes the policy for the next Sync (CONFIG SET appendfsync). Data
  // written under kNever is fsync'd by the next SyncAll, not by Sync.
  void set_sync_policy(SyncPolicy policy);

  // Background sync (see the file comment). Under kEverySecond and kNever
  // StartBackgroundSync is Sync() and nothing runs in the background.
  Status StartBackgroundSync();
  // Applies a finished background fsync: OK with durable_index() moved on,
  // or the error of a failed one (nothing new durable; the next Sync or
  // background sync rewrites). OK and no change when none finished. Never
  // blocks.
  Status FinishBackgroundSync();
  bool background_sync_running() const { return running_job_.has_value(); }
  // Called on the sync thread each time a background fsync ends (it must
  // only hand the news to the owner's thread, e.g. post to its loop).
  void SetBackgroundSyncDone(std::function<void()> done);
  // Blocks until a running background fsync ends and applies its result
  // (as FinishBackgroundSync would).
  Status WaitForBackgroundSync();
  // kEverySecond: fsyncs written data if periodic_sync_ms passed since the
  // last fsync. No-op for other policies. `now_ms` is any monotonic clock.
  Status MaybeSyncPeriodic(int64_t now_ms);
  // Writes and fsyncs everything now regardless of policy (shutdown, before
  // compaction). Returns durable_index().
  Result<uint64_t> SyncAll();

  // Term of the entry at index; also valid for first_index() - 1.
  // NotFound outside [first_index() - 1, last_index()].
  Result<uint64_t> TermAt(uint64_t index) const;

  // Appends to *out entries from `from` on, stopping once their payloads
  // total >= max_bytes (at least one entry is returned if any exists) or at
  // last_index(). Recent entries come from memory, older ones from disk.
  // Disk reads are sequential-friendly: the log keeps the segment open with
  // its read-ahead where the last disk read stopped, so a Read that starts
  // there (or at an entry the previous Read returned) neither reopens the
  // file nor rescans from a checkpoint.
  // NotFound if from < first_index() (compacted); empty if from > last.
  Status Read(uint64_t from, size_t max_bytes, std::vector<LogEntry>* out);
  // Calls fn for every entry from `from` to last_index() in order (startup
  // replay). A non-OK status from fn stops the walk and is returned.
  Status ForEach(uint64_t from, const std::function<Status(const EntryView&)>& fn);

  // Removes every entry with index > after_index (a follower's conflicting
  // suffix). after_index >= first_index() - 1, else InvalidArgument. Whole
  // later segments are deleted (and the directory fsync'd); the segment
  // holding after_index is cut. If the ftruncate fails, the log is still
  // truncated in memory, the error is returned, and the next Sync retries
  // the cut before writing. Durable/written indexes drop to after_index.
  Status TruncateSuffix(uint64_t after_index);

  // Drops whole segments whose entries are all <= up_to_index and durable,
  // never the last segment. first_index() moves to the first kept entry.
  // Entries may remain below up_to_index (segment granularity). The files
  // are deleted on a background thread, oldest first (BackgroundFileDeleter:
  // unlinking a GiB of segments took half a second): until then, or after a
  // crash before it, the directory holds a longer log, which recovery
  // accepts (the caller skips what its snapshot covers). A failed deletion
  // stops the deletions after it (no gap) until a CompactPrefix that drops
  // a segment, or WaitForFileDeletions, retries it; CompactPrefix returns
  // such a failure if the background thread met it before the call.
  Status CompactPrefix(uint64_t up_to_index);
  // Retries a failed deletion and blocks until the files CompactPrefix
  // dropped are deleted or one fails again; returns the first deletion
  // failure not yet reported.
  Status WaitForFileDeletions();

  // Drops every entry and file and restarts the log empty at next_index, with
  // TermAt(next_index - 1) == prev_term (after installing a snapshot at
  // next_index - 1). Durable when it returns OK. If it fails midway, reopen
  // and call it again: the files left are always a valid log prefix. Waits
  // for CompactPrefix's deletions first and fails, changing nothing, if one
  // of them fails again.
  Status Reset(uint64_t next_index, uint64_t prev_term);

 private:
  struct Segment {
    uint64_t first_index = 1;
    uint64_t last_index = 0;  // first_index - 1 when empty
    uint64_t prev_term = 0;
    uint64_t last_term = 0;
    std::string path;
    uint64_t end_offset = 0;      // logical size including buffered records
    uint64_t written_size = 0;    // bytes on file known good
    uint64_t durable_size = 0;    // bytes fsync'd
    // The file's size unless needs_truncate: bytes in [written_size,
    // preallocated_size) exist on disk and are zero (see Preallocate).
    uint64_t preallocated_size = 0;
    bool created = false;         // file exists with its header written
    bool needs_truncate = false;  // file may hold junk past written_size
    bool new_in_dir = false;      // created since the last directory fsync
    std::shared_ptr<File> file;   // open while tail or not fully durable
    // checkpoints[k] = offset of record first_index + k * kCheckpointStride.
    std::vector<uint64_t> checkpoints;
  };
  // A run of encoded records, contiguous in one segment, in memory.
  struct Block {
    enum class State { kPending, kWritten, kDurable };
    uint64_t segment_first = 0;
    uint64_t file_offset = 0;
    uint64_t first_index = 0;
    uint64_t last_index = 0;
    std::string bytes;
    State state = State::kPending;
  };
  struct TermRun {
    uint64_t start_index;
    uint64_t term;
  };
  // What a running background fsync makes durable when it succeeds.
  struct SyncJob {
    uint64_t through_index = 0;                                // written_index() at its start
    std::vector<std::pair<uint64_t, uint64_t>> segment_sizes;  // (first_index, written_size)
    bool sync_dir = false;                                     // new segment names too
  };

  struct ReadCursor;  // log.cc

  Log(Env* env, std::string dir, LogOptions options);
  Status Recover(RecoveryReport* report);
  Segment NewSegment(uint64_t first_index, uint64_t prev_term) const;
  Segment* FindSegment(uint64_t index);
  Status PrepareForWrite(Segment* seg);
  Status Preallocate(Segment* seg);
  Status TrimClosedSegment(Segment* seg);
  Status WritePending();
  Status FsyncWritten();
  void OnFsyncFailure();
  void EvictCache();
  size_t FirstNonDurableBlock() const;
  size_t FirstPendingBlock() const;
  void MarkBlocksDurableThrough(uint64_t index);
  // Takes the running background fsync's result (waiting for it if `wait`)
  // and applies it; nullopt if none ran or (without wait) none ended.
  std::optional<Status> CollectBackgroundSync(bool wait);
  void ApplyBackgroundSync(const SyncJob& job, const Status& result);
  void SyncThreadMain();
  uint64_t MemoryFirstIndex() const;
  Status ReadFromMemory(uint64_t from, size_t max_bytes, std::vector<LogEntry>* out, size_t* bytes);
  Status ReadFromDisk(uint64_t from, size_t max_bytes, std::vector<LogEntry>* out, size_t* bytes);
  Result<uint64_t> OffsetOf(Segment* seg, uint64_t index);
  // Closes seg's file (and the read cursor in it); false if it has none.
  bool CloseSegmentFile(Segment* seg);
  Status DeleteSegmentFile(Segment* seg);
  // CompactPrefix's deletion: the file is closed now and unlinked by
  // deleter_ later (in order, so a crash leaves a longer contiguous log).
  void RetireSegmentFile(Segment* seg);

  Env* env_;
  std::string dir_;
  LogOptions options_;
  std::deque<Segment> segments_;  // never empty
  std::deque<Block> blocks_;      // contiguous indexes ending at last_index_
  std::vector<TermRun> term_runs_;
  uint64_t last_index_ = 0;
  uint64_t last_term_ = 0;
  uint64_t written_index_ = 0;
  uint64_t durable_index_ = 0;
  size_t durable_block_bytes_ = 0;
  int64_t last_fsync_ms_ = 0;
  std::unique_ptr<ReadCursor> cursor_;  // where the last disk read stopped
  BackgroundFileDeleter deleter_;       // segments dropped by CompactPrefix

  // Background sync. Owner's thread only:
  std::optional<SyncJob> running_job_;
  Status background_failure_;  // a failed background fsync not yet reported
  // Shared with the sync thread, under sync_mu_:
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<std::shared_ptr<File>> job_files_;  // to fdatasync
  bool job_sync_dir_ = false;
  bool job_posted_ = false;  // a job waits for the thread
  bool job_done_ = false;    // the thread finished it; job_result_ holds how
  Status job_result_;
  bool sync_stop_ = false;
  std::function<void()> sync_done_;
  std::thread sync_thread_;  // started by the first background sync
};

}  // namespace tandem::wal
