// BackgroundFileDeleter: deletes files on its own thread, one at a time, in
// the order they were queued, so the caller's thread does not wait for the
// file system. Unlinking a 64 MiB log segment took ~26 ms here (ext4 frees
// its extents); a compaction after a 1 GiB snapshot deletes 18 of them, and
// doing that in the event loop stalled it for half a second, as long as an
// election timeout.
//
// Order matters to a log: it deletes its oldest segments first, so a crash
// part-way leaves a contiguous log (a longer prefix, never a gap).
//
// Thread-safety: Delete, Drain and pending may be called from any one owner
// thread; the worker thread only calls env->DeleteFile. The thread starts
// with the first Delete. The destructor finishes the queue, then joins.
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

  // Queues `path` for deletion after everything queued before it.
  void Delete(std::string path);
  // Blocks until every queued file is deleted. Returns the first failure
  // since the previous Drain or TakeFailure (a file already gone is not one)
  // and forgets it.
  Status Drain();
  // The first failure since the previous call, without waiting; Ok if none.
  Status TakeFailure();
  // Files queued and not yet deleted.
  size_t pending() const;

 private:
  void Main();

  Env* env_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work queued, or stop
  std::condition_variable idle_cv_;  // the queue ran empty
  std::deque<std::string> queue_;
  bool stop_ = false;
  Status failure_;
  std::thread worker_;
};

}  // namespace tandem
