#include "server/snapshotter.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "kv/snapshot_entry.h"
#include "snapshot/snapshot_store.h"
#include "snapshot/snapshot_writer.h"
#include "util/allocator.h"

namespace tandem::server {
namespace {
// The snapshot child's nice value (the parent keeps its own).
constexpr int kChildNice = 10;
// A capture step ends after this many encoded bytes, keys or microseconds
// of the loop, whichever comes first (the clock is read every
// kCaptureKeysPerCall keys).
constexpr size_t kCaptureStepBytes = 1 << 20;
constexpr size_t kCaptureStepKeys = 8192;
constexpr int64_t kCaptureStepMicros = 300;
constexpr size_t kCaptureKeysPerCall = 32;
}  // namespace

Snapshotter::~Snapshotter() {
  if (capture_) EndCapture();
  retiring_.reset();  // joins its thread
}

Result<Snapshotter::Loaded> Snapshotter::LoadNewest(kv::StateMachine& sm,
                                                    uint64_t log_first_index) {
  snapshot::SnapshotScanReport report;
  // One read of the file: entries are loaded as they verify; a file found
  // corrupt part-way is dropped from `sm` and an older one tried.
  auto latest = snapshot::LoadLatestSnapshot(
      env_, dir_, log_first_index, &report,
      [&](std::string_view entry) { return sm.LoadSnapshotEntry(entry); },
      [&] { sm.keyspace().Clear(); });
  for (const auto& tmp : report.removed_tmp) {
    spdlog::warn("removed an unfinished snapshot left by a crash: {}", tmp);
  }
  for (const auto& w : report.warnings) spdlog::warn("snapshot: {}", w);
  if (!latest.ok()) {
    sm.keyspace().Clear();
    return latest.status();
  }
  if (!latest->has_value()) return Loaded{};
  const snapshot::SnapshotInfo& info = **latest;
  RecordLoaded(info.meta.last_index, info.path, info.meta.created_unix_ms);
  spdlog::info("loaded snapshot {} (index {}, {} keys)", info.path, info.meta.last_index,
               sm.keyspace().size());
  return Loaded{info.meta.last_index, info.meta.last_term, info.meta.metadata};
}

void Snapshotter::RecordLoaded(uint64_t index, const std::string& path,
                               int64_t created_unix_ms) {
  RecordNewest(index, path);
  last_success_ms_ = created_unix_ms;
}

void Snapshotter::RecordNewest(uint64_t index, const std::string& path) {
  last_index_ = index;
  auto size = env_->FileSize(path);
  last_file_bytes_ = size.ok() ? *size : 0;
}

snapshot::SnapshotMeta Snapshotter::Meta(uint64_t index, uint64_t term,
                                         const std::string& metadata, int64_t now_unix_ms) {
  snapshot::SnapshotMeta meta;
  meta.metadata = metadata;
  meta.last_index = index;
  meta.last_term = term;
  meta.created_unix_ms = now_unix_ms;
  return meta;
}

Result<std::string> Snapshotter::Write(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                                       const std::string& metadata, int64_t now_unix_ms) {
  auto writer =
      snapshot::SnapshotWriter::Create(env_, dir_, Meta(index, term, metadata, now_unix_ms));
  if (!writer.ok()) return writer.status();
  TANDEM_RETURN_IF_ERROR(
      sm.WriteSnapshot([&](std::string_view entry) { return (*writer)->Add(entry); }));
  return (*writer)->Finish(/*keep=*/2);
}

Status Snapshotter::SaveNow(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                            const std::string& metadata, int64_t now_unix_ms) {
  if (in_progress()) return Status::Busy("a background snapshot is running");
  auto path = Write(sm, index, term, metadata, now_unix_ms);
  last_ok_ = path.ok();
  if (!path.ok()) {
    spdlog::error("snapshot at index {} failed: {}", index, path.status().ToString());
    return path.status();
  }
  last_success_ms_ = now_unix_ms;
  RecordNewest(index, *path);
  spdlog::info("snapshot at index {} saved", index);
  return Status::Ok();
}

Status Snapshotter::StartBackground(kv::StateMachine& sm, uint64_t index, uint64_t term,
                                    const std::string& metadata, int64_t now_unix_ms) {
  if (in_progress()) return Status::Busy("a background snapshot is running");
  TANDEM_RETURN_IF_ERROR(method_ == SnapshotMethod::kFork
                             ? StartFork(sm, index, term, metadata, now_unix_ms)
                             : StartCapture(sm, index, term, metadata, now_unix_ms));
  child_index_ = index;
  child_term_ = term;
  child_started_ms_ = now_unix_ms;
  return Status::Ok();
}

Status Snapshotter::StartFork(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                              const std::string& metadata, int64_t now_unix_ms) {
  auto fork_start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork for a background snapshot", errno);
  if (pid == 0) {
    // Child: the parent's memory as it was at fork time, copy-on-write.
    // Background work: below the event loops of this and the other nodes
    // sharing the cores (best effort; a failure changes nothing else).
    setpriority(PRIO_PROCESS, 0, kChildNice);
    auto path = Write(sm, index, term, metadata, now_unix_ms);
    if (!path.ok()) {
      std::fprintf(stderr, "background snapshot at index %llu failed: %s\n",
                   static_cast<unsigned long long>(index), path.status().ToString().c_str());
    }
    _exit(path.ok() ? 0 : 1);
  }
  latest_fork_usec_ = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - fork_start)
                         .count();
  child_ = pid;
  spdlog::info("background snapshot at index {} started by pid {} (fork took {} ms)", index, pid,
               latest_fork_usec_ / 1000);
  return Status::Ok();
}

Status Snapshotter::StartCapture(kv::StateMachine& sm, uint64_t index, uint64_t term,
                                 const std::string& metadata, int64_t now_unix_ms) {
  uint64_t generation = ++capture_generation_;
  auto writer = snapshot::AsyncSnapshotWriter::Start(
      env_, dir_, Meta(index, term, metadata, now_unix_ms), /*keep=*/2,
      [this, generation] { post_([this, generation] { CaptureStep(generation); }); });
  if (!writer.ok()) return writer.status();
  auto c = std::make_unique<Capture>();
  c->generation = generation;
  c->keyspace = &sm.keyspace();
  c->writer = std::move(*writer);
  auto begin = std::chrono::steady_clock::now();
  Capture* raw = c.get();
  c->keyspace->BeginCapture(
      [raw](std::string_view key, const kv::Object& value, int64_t expire_at) {
        if (!raw->error.ok()) return;
        std::string& batch = raw->writer->batch();
        size_t header = snapshot::StartFramedEntry(&batch);
        kv::EncodeSnapshotEntry(key, value, expire_at, &batch);
        raw->error = snapshot::EndFramedEntry(&batch, header);
      });
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - begin)
                  .count();
  capture_ = std::move(c);
  spdlog::info("background snapshot at index {} started in this process ({} keys captured in {} ms)",
               index, sm.keyspace().size(), took / 1000);
  PostCaptureStep();
  return Status::Ok();
}

void Snapshotter::PostCaptureStep() {
  post_([this, generation = capture_->generation] { CaptureStep(generation); });
}

void Snapshotter::CaptureStep(uint64_t generation) {
  Capture* c = capture_.get();
  if (c == nullptr || c->generation != generation || c->finishing) return;
  // Failures end at the next Poll.
  if (!c->error.ok() || c->writer->done()) return;
  if (c->writer->Full()) return;  // its on_event posts the next step
  bool more = true;
  auto start = std::chrono::steady_clock::now();
  for (size_t keys = 0;
       more && keys < kCaptureStepKeys && c->writer->batch().size() < kCaptureStepBytes &&
       std::chrono::steady_clock::now() - start < std::chrono::microseconds(kCaptureStepMicros);
       keys += kCaptureKeysPerCall) {
    more = c->keyspace->CaptureStep(kCaptureKeysPerCall);
  }
  if (!c->error.ok()) return;
  if (!more) {
    // Every captured key has been handed out: no command can add to the
    // batch any more.
    c->keyspace->EndCapture();
    c->finishing = true;
    c->writer->Finish();
    return;
  }
  c->writer->Submit();
  if (!c->writer->Full()) PostCaptureStep();
}

void Snapshotter::EndCapture() {
  if (capture_->keyspace->capturing()) capture_->keyspace->EndCapture();
  std::unique_ptr<snapshot::AsyncSnapshotWriter> writer = std::move(capture_->writer);
  capture_.reset();
  if (!writer->done()) {
    // Its thread may be in a write or sync: it stops (deleting the .tmp)
    // off the loop, and Poll reaps it.
    writer->Abandon();
    retiring_ = std::move(writer);
  }
}

void Snapshotter::ReapRetiring() {
  auto path = retiring_->result();
  if (path.ok()) {
    // Abandoned while already installing: a complete snapshot of
    // committed state, kept (and found by the next start-up).
    spdlog::info("abandoned background snapshot was installed anyway: {}", *path);
  }
  retiring_.reset();
}

void Snapshotter::AbandonCapture(const char* why) {
  if (!capture_) return;
  spdlog::warn("background snapshot at index {} abandoned: {}", child_index_, why);
  EndCapture();
}

std::optional<uint64_t> Snapshotter::PollCapture(int64_t now_unix_ms) {
  Capture* c = capture_.get();
  Status failure = c->error;
  if (failure.ok() && !c->writer->done()) return std::nullopt;
  Result<std::string> path = failure.ok() ? c->writer->result() : Result<std::string>(failure);
  EndCapture();
  last_ok_ = path.ok();
  if (!path.ok()) {
    spdlog::error("background snapshot at index {} failed: {}", child_index_,
                  path.status().ToString());
    return std::nullopt;
  }
  last_success_ms_ = child_started_ms_;
  RecordNewest(child_index_, *path);
  // The capture's pointer vector and batches are free now; the batches
  // (and the spare buffers) were freed by the writer thread, into its own
  // arena. Unreturned, they stayed in RSS (a follower at 1M keys: 113 MiB
  // against 95).
  FreeMemoryReport freed = ReleaseFreeHeapMemory();
  spdlog::info("background snapshot at index {} done in {} ms (returned {} MiB of freed memory)",
               child_index_, now_unix_ms - child_started_ms_,
               (freed.rss_before - freed.rss_after) >> 20);
  return child_index_;
}

std::optional<uint64_t> Snapshotter::OnChildExit(int status, int64_t now_unix_ms) {
  child_ = -1;
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  last_ok_ = ok;
  if (!ok) {
    spdlog::error("background snapshot at index {} failed (exit status {})", child_index_, status);
    return std::nullopt;
  }
  last_success_ms_ = child_started_ms_;
  RecordNewest(child_index_, JoinPath(dir_, snapshot::SnapshotFileName(child_index_, child_term_)));
  spdlog::info("background snapshot at index {} done in {} ms", child_index_,
               now_unix_ms - child_started_ms_);
  return child_index_;
}

std::optional<uint64_t> Snapshotter::Poll(int64_t now_unix_ms) {
  if (retiring_ && retiring_->done()) ReapRetiring();
  if (capture_) return PollCapture(now_unix_ms);
  if (child_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(child_, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  if (r < 0) {
    child_ = -1;
    last_ok_ = false;
    return std::nullopt;
  }
  return OnChildExit(status, now_unix_ms);
}

void Snapshotter::WaitForChild(int64_t now_unix_ms) {
  AbandonCapture("shutting down");
  retiring_.reset();  // waits for a write in progress
  if (child_ <= 0) return;
  int status = 0;
  if (waitpid(child_, &status, 0) == child_) OnChildExit(status, now_unix_ms);
  child_ = -1;
}

}  // namespace tandem::server
