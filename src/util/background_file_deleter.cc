#include "util/background_file_deleter.h"

#include <utility>

namespace tandem {

BackgroundFileDeleter::~BackgroundFileDeleter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    paused_ = false;  // one more try of what is left
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BackgroundFileDeleter::Delete(std::string path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(path));
    paused_ = false;
    if (!worker_.joinable()) worker_ = std::thread([this] { Main(); });
  }
  cv_.notify_one();
}

void BackgroundFileDeleter::Retry() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
  }
  cv_.notify_one();
}

Status BackgroundFileDeleter::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() || paused_; });
  return std::exchange(failure_, Status::Ok());
}

Status BackgroundFileDeleter::TakeFailure() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(failure_, Status::Ok());
}

size_t BackgroundFileDeleter::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BackgroundFileDeleter::Main() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (!queue_.empty() && !paused_); });
    if (queue_.empty() || paused_) return;  // stopping: done, or failed again
    std::string path = queue_.front();
    lock.unlock();
    Status st = env_->DeleteFile(path);
    lock.lock();
    if (st.ok() || st.IsNotFound()) {
      queue_.pop_front();
      if (queue_.empty()) idle_cv_.notify_all();
    } else {
      if (failure_.ok()) failure_ = st;
      paused_ = true;  // keep it at the head: deleting later files would leave a gap
      idle_cv_.notify_all();
    }
  }
}

}  // namespace tandem
