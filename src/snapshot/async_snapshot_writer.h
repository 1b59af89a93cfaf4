// AsyncSnapshotWriter: a SnapshotWriter on its own thread, fed batches of
// framed entries (snapshot_format.h, StartFramedEntry) by the event loop.
// The loop encodes; the thread checksums, writes and syncs, so a snapshot
// taken in-process (server/snapshotter.h, "capture") costs the loop the
// encoding only.
//
// Threading: every method is for the one producer thread (the loop), except
// that `on_event` runs on the writer thread. Memory: at most about the
// queue limit queued (Full() tells the producer to stop), as much again in
// emptied buffers kept for reuse (the thread frees them before done()),
// plus the batch being built, which the producer may keep filling while
// Full() (a capture hands out every key a command is about to change:
// bounded by the data changed during the snapshot).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/snapshot_format.h"
#include "snapshot/snapshot_writer.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::snapshot {

class AsyncSnapshotWriter {
 public:
  // Small: everything queued and kept spare is heap a snapshot takes
  // afresh (faulted in, freed afterwards). Measured on one node, first
  // BGSAVE after start (docs/benchmarks.md, eleventh session): 157 MB took
  // 532 ms and 0.34-0.40 s of CPU with 4 MiB, 817-887 ms and 0.71-0.97 s
  // with 32 MiB (peak RSS +28-36 MB against +75-117 MB); 1 GB took the
  // same wall time (2.8-3.1 s) and 1.6-1.7 s of CPU against 2.1-2.5 s.
  static constexpr size_t kQueueLimitBytes = 4u << 20;

  // Creates the file as SnapshotWriter::Create does (on the caller's
  // thread, so errors come back at once) and starts the thread. on_event
  // runs on the writer thread when a queue that was Full() has drained to
  // half, and once when the thread is done(); it must only hand work to
  // the producer (e.g. post to its event loop).
  static Result<std::unique_ptr<AsyncSnapshotWriter>> Start(
      Env* env, const std::string& dir, const SnapshotMeta& meta, size_t keep,
      std::function<void()> on_event, size_t queue_limit_bytes = kQueueLimitBytes);
  // Abandon() and joins the thread: blocks while a write or sync in
  // progress completes (call Abandon() first and destroy once done()
  // not to block).
  ~AsyncSnapshotWriter();
  // Tells the thread to stop after the write in progress: it deletes the
  // .tmp and becomes done() with an error. If Finish() had already begun
  // installing the file, the file is installed (it is a complete snapshot)
  // and result() says so.
  void Abandon();
  AsyncSnapshotWriter(const AsyncSnapshotWriter&) = delete;
  AsyncSnapshotWriter& operator=(const AsyncSnapshotWriter&) = delete;

  // The batch being built: append framed entries.
  std::string& batch() { return batch_; }
  // Queues batch() (when not empty) for the thread and starts a new one.
  void Submit();
  // Whether the queue is at its limit: produce no more until on_event.
  bool Full();
  // Submits batch(), then the thread completes and installs the file
  // (SnapshotWriter::Finish). Nothing may be added afterwards.
  void Finish();
  // The thread has stopped: the file is installed, or writing failed.
  bool done();
  // After done(): the installed file's path, or the first error.
  Result<std::string> result();

 private:
  AsyncSnapshotWriter(std::unique_ptr<SnapshotWriter> writer, size_t keep,
                      std::function<void()> on_event, size_t queue_limit_bytes);
  void Run();

  std::unique_ptr<SnapshotWriter> writer_;  // used by the thread only
  const size_t keep_;
  const size_t queue_limit_bytes_;
  const std::function<void()> on_event_;
  std::string batch_;  // the producer's

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  // Written batches, emptied, kept for the producer's next ones: their
  // pages are mapped already (a fresh buffer page-faults on every first
  // write, and on a VM whose host backs memory on first touch that costs
  // more than the copy into it; measured: two spares against enough for a
  // whole queue, a 1 GiB capture took 29-43k minor faults and 3.5-4.2 s
  // against 16-23k and 2.7-3.5 s, with a 32 MiB queue). At most the queue
  // limit in total capacity, so with 4 MiB about two batches again: the
  // queue's own memory is what the smaller limit saves (with
  // --heap-prefault off, first BGSAVE of 157 MB: 1.06-1.33 s against
  // 0.98-1.15 s, CPU 0.81-1.04 s against 0.99-1.09 s, peak RSS +13 MB
  // against +56 MB). A buffer over kMaxSpareBytes (a large value) is freed.
  static constexpr size_t kMaxSpareBytes = 4u << 20;
  std::vector<std::string> spare_;
  size_t spare_bytes_ = 0;  // capacity held by spare_
  size_t queued_bytes_ = 0;
  bool producer_waits_ = false;  // Full() returned true; on_event when half drained
  bool finish_ = false;          // Finish() was called
  bool abandon_ = false;         // the destructor runs
  bool done_ = false;
  Status error_;
  std::string path_;
  std::thread thread_;
};

}  // namespace tandem::snapshot
