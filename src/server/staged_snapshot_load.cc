#include "server/staged_snapshot_load.h"

#include <algorithm>
#include <new>

namespace tandem::server {
namespace {
// Bytes read from the receive file at a time (from the page cache: the
// loop wrote them just before).
constexpr uint64_t kReadBytes = 1 << 20;
}  // namespace

Result<std::unique_ptr<StagedSnapshotLoad>> StagedSnapshotLoad::Start(
    Env* env, const snapshot::SnapshotOffer& offer, const std::string& path,
    std::function<void()> on_idle) {
  auto file = env->OpenFile(path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  std::unique_ptr<StagedSnapshotLoad> load(
      new StagedSnapshotLoad(offer, std::move(*file), std::move(on_idle)));
  load->thread_ = std::thread([raw = load.get()] { raw->Run(); });
  return load;
}

StagedSnapshotLoad::StagedSnapshotLoad(const snapshot::SnapshotOffer& offer,
                                       std::unique_ptr<File> file,
                                       std::function<void()> on_idle)
    : offer_(offer),
      file_(std::move(file)),
      on_idle_(std::move(on_idle)),
      decoder_(file_->path()) {}

StagedSnapshotLoad::~StagedSnapshotLoad() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  more_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StagedSnapshotLoad::Advance(uint64_t received) {
  {
    std::lock_guard lock(mu_);
    if (received <= available_) return;
    available_ = received;
  }
  more_.notify_one();
}

bool StagedSnapshotLoad::failed() const {
  std::lock_guard lock(mu_);
  return !error_.ok();
}

Status StagedSnapshotLoad::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

bool StagedSnapshotLoad::idle() const {
  std::lock_guard lock(mu_);
  return IdleLocked();
}

bool StagedSnapshotLoad::WaitComplete() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return IdleLocked(); });
  return error_.ok() && processed_ == offer_.total_size && decoder_.done();
}

void StagedSnapshotLoad::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    more_.wait(lock, [&] { return stop_ || available_ > processed_; });
    if (stop_) return;
    uint64_t upto = available_;
    lock.unlock();
    Status st;
    try {
      st = LoadUpTo(upto);
    } catch (const std::bad_alloc&) {
      st = Status::NoSpace("out of memory loading the snapshot beside the state");
    }
    lock.lock();
    if (stop_) return;
    if (st.ok()) {
      processed_ = upto;
    } else {
      error_ = st;
    }
    if (!IdleLocked()) continue;
    idle_.notify_all();
    lock.unlock();
    if (on_idle_) on_idle_();
    if (!st.ok()) return;
    lock.lock();
  }
}

Status StagedSnapshotLoad::LoadUpTo(uint64_t upto) {
  while (read_ < upto && !stop_) {
    size_t want = static_cast<size_t>(std::min(kReadBytes, upto - read_));
    auto got = decoder_.AppendFromFile(*file_, read_, want);
    if (!got.ok()) return got.status();
    if (*got != want) return decoder_.Error("the receive file is shorter than received");
    read_ += *got;
    TANDEM_RETURN_IF_ERROR(Decode());
  }
  return Status::Ok();
}

Status StagedSnapshotLoad::Decode() {
  for (;;) {
    std::string_view entry;
    snapshot::SnapshotDecoder::Step step;
    TANDEM_RETURN_IF_ERROR(decoder_.Next(&entry, &step));
    switch (step) {
      case snapshot::SnapshotDecoder::Step::kHeader:
        if (meta().last_index != offer_.last_index || meta().last_term != offer_.last_term) {
          return decoder_.Error("the header does not match the offer");
        }
        break;
      case snapshot::SnapshotDecoder::Step::kEntry:
        if (Status st = state_.LoadSnapshotEntry(entry); !st.ok()) {
          return decoder_.Error("entry " + std::to_string(decoder_.entries_read()) + ": " +
                                st.message());
        }
        break;
      case snapshot::SnapshotDecoder::Step::kNeedMore:
      case snapshot::SnapshotDecoder::Step::kDone:
        return Status::Ok();
    }
  }
}

}  // namespace tandem::server
