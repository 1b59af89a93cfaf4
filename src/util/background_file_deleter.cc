#include "util/background_file_deleter.h"

#include <utility>

namespace tandem {

BackgroundFileDeleter::~BackgroundFileDeleter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BackgroundFileDeleter::Delete(std::string path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(path));
    if (!worker_.joinable()) worker_ = std::thread([this] { Main(); });
  }
  cv_.notify_one();
}

Status BackgroundFileDeleter::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty(); });
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
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is done
    std::string path = queue_.front();
    lock.unlock();
    Status st = env_->DeleteFile(path);
    lock.lock();
    if (!st.ok() && !st.IsNotFound() && failure_.ok()) failure_ = st;
    queue_.pop_front();
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace tandem
