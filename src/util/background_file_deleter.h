// BackgroundFileDeleter: deletes files on its own thread, one at a time, in
// the order they were queued, so the caller's thread does not wait for the
// file system. Unlinking a 64 MiB log segment took ~26 ms here (ext4 frees
// its extents); a compaction after a 1 GiB snapshot deletes 18 of them, and
// doing that in the event loop stalled it for half a second, as long as an
// election timeout.
//
// Order matters to a log: it deletes its oldest segments first, so what is
// left at any moment (a crash included) is a suffix of what was queued plus
// the files not queued: a longer log, never one with a gap. A failure
// therefore pauses the queue with the failed file still at its head: nothing
// queued after it is deleted until the next Delete or Retry.
//
// Thread-safety: Delete, Retry, Drain, TakeFailure and pending are for one owner
// thread; the worker thread only calls env->DeleteFile. The thread starts
// with the first Delete. The destructor tries the rest of the queue once (in
// order, stopping at a failure, as a crash would leave it), then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "util/env.h"
#include "util/status.h"

namespace tandem {

class BackgroundFileDeleter {
 public:
  explicit BackgroundFileDeleter(Env* env) : env_(env) {}
  ~BackgroundFileDeleter();
  BackgroundFileDeleter(const BackgroundFileDeleter&) = delete;
  BackgroundFileDeleter& operator=(const BackgroundFileDeleter&) = delete;

  // Queues `path` for deletion after everything queued before it; resumes a
  // queue paused by a failure.
  void Delete(std::string path);
  // Resumes a queue paused by a failure (tries the failed file again).
  void Retry();
  // Blocks until the queue is empty or paused by a failure. Returns the
  // first failure not reported yet (a file already gone is not one) and
  // forgets it.
  Status Drain();
  // The first failure not reported yet, without waiting; Ok if none.
  Status TakeFailure();
  // Files queued and not yet deleted.
  size_t pending() const;

 private:
  void Main();

  Env* env_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work to do, or stop
  std::condition_variable idle_cv_;  // the queue ran empty or paused
  std::deque<std::string> queue_;
  bool paused_ = false;  // the head failed; wait for Delete or Retry
  bool stop_ = false;
  Status failure_;
  std::thread worker_;
};

}  // namespace tandem
