#include "snapshot/async_snapshot_writer.h"

#include <sys/resource.h>
#include <unistd.h>

namespace tandem::snapshot {
namespace {
constexpr int kThreadNice = 10;
}  // namespace

Result<std::unique_ptr<AsyncSnapshotWriter>> AsyncSnapshotWriter::Start(
    Env* env, const std::string& dir, const SnapshotMeta& meta, size_t keep,
    std::function<void()> on_event, size_t queue_limit_bytes) {
  auto writer = SnapshotWriter::Create(env, dir, meta);
  if (!writer.ok()) return writer.status();
  std::unique_ptr<AsyncSnapshotWriter> w(new AsyncSnapshotWriter(
      std::move(*writer), keep, std::move(on_event), queue_limit_bytes));
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

AsyncSnapshotWriter::AsyncSnapshotWriter(std::unique_ptr<SnapshotWriter> writer, size_t keep,
                                         std::function<void()> on_event,
                                         size_t queue_limit_bytes)
    : writer_(std::move(writer)),
      keep_(keep),
      queue_limit_bytes_(queue_limit_bytes),
      on_event_(std::move(on_event)) {}

AsyncSnapshotWriter::~AsyncSnapshotWriter() {
  Abandon();
  if (thread_.joinable()) thread_.join();
}

void AsyncSnapshotWriter::Abandon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    abandon_ = true;
  }
  cv_.notify_all();
}

void AsyncSnapshotWriter::Submit() {
  if (batch_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_bytes_ += batch_.size();
    queue_.push_back(std::move(batch_));
    batch_ = std::string();
    // A written batch's buffer again (spare_).
    if (!spare_.empty()) {
      batch_ = std::move(spare_.back());
      spare_.pop_back();
      spare_bytes_ -= batch_.capacity();
    }
  }
  cv_.notify_all();
}

bool AsyncSnapshotWriter::Full() {
  std::lock_guard<std::mutex> lock(mu_);
  if (queued_bytes_ < queue_limit_bytes_ || done_) return false;
  producer_waits_ = true;
  return true;
}

void AsyncSnapshotWriter::Finish() {
  Submit();
  {
    std::lock_guard<std::mutex> lock(mu_);
    finish_ = true;
  }
  cv_.notify_all();
}

bool AsyncSnapshotWriter::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

Result<std::string> AsyncSnapshotWriter::result() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!done_) return Status::Busy("the snapshot is still being written");
  if (!error_.ok()) return error_;
  return path_;
}

void AsyncSnapshotWriter::Run() {
  // Background work: below the event loops sharing the cores, as a
  // snapshot child is (best effort; Linux applies it to this thread only).
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kThreadNice);
  Status st;
  for (;;) {
    std::string batch;
    bool wake_producer = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return abandon_ || finish_ || !queue_.empty(); });
      if (abandon_) {
        st = Status::Unavailable("the snapshot was abandoned");
        break;
      }
      if (queue_.empty()) break;  // finish_ and everything written
      batch = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= batch.size();
      if (producer_waits_ && queued_bytes_ <= queue_limit_bytes_ / 2) {
        producer_waits_ = false;
        wake_producer = true;
      }
    }
    if (wake_producer) on_event_();
    uint64_t count = 0;
    st = ChecksumFramedEntries(&batch, &count);
    if (st.ok()) st = writer_->AddFramed(batch, count);
    if (!st.ok()) break;
    batch.clear();
    std::lock_guard<std::mutex> lock(mu_);
    if (batch.capacity() <= kMaxSpareBytes &&
        spare_bytes_ + batch.capacity() <= queue_limit_bytes_) {
      spare_bytes_ += batch.capacity();
      spare_.push_back(std::move(batch));
    }
  }
  std::string path;
  if (st.ok()) {
    auto finished = writer_->Finish(keep_);
    if (finished.ok()) {
      path = std::move(*finished);
    } else {
      st = finished.status();
    }
  }
  writer_.reset();  // an unfinished .tmp is deleted here, off the loop
  if (!st.ok()) path.clear();
  std::vector<std::string> spares;  // freed here, before done(): off the loop
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    error_ = st;
    path_ = std::move(path);
    queue_.clear();
    queued_bytes_ = 0;
    spares.swap(spare_);
    spare_bytes_ = 0;
  }
  spares.clear();
  on_event_();
}

}  // namespace tandem::snapshot
