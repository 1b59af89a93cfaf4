#include "server/snapshotter.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "snapshot/snapshot_store.h"
#include "snapshot/snapshot_writer.h"

namespace tandem::server {
namespace {
// The snapshot child's nice value (the parent keeps its own).
constexpr int kChildNice = 10;
}  // namespace

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
  RecordNewest(info.meta.last_index, info.path);
  last_success_ms_ = info.meta.created_unix_ms;
  spdlog::info("loaded snapshot {} (index {}, {} keys)", info.path, info.meta.last_index,
               sm.keyspace().size());
  return Loaded{info.meta.last_index, info.meta.last_term, info.meta.metadata};
}

void Snapshotter::RecordNewest(uint64_t index, const std::string& path) {
  last_index_ = index;
  auto size = env_->FileSize(path);
  last_file_bytes_ = size.ok() ? *size : 0;
}

Result<std::string> Snapshotter::Write(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                                       const std::string& metadata, int64_t now_unix_ms) {
  snapshot::SnapshotMeta meta;
  meta.metadata = metadata;
  meta.last_index = index;
  meta.last_term = term;
  meta.created_unix_ms = now_unix_ms;
  auto writer = snapshot::SnapshotWriter::Create(env_, dir_, meta);
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

Status Snapshotter::StartBackground(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                                    const std::string& metadata, int64_t now_unix_ms) {
  if (in_progress()) return Status::Busy("a background snapshot is running");
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
  child_index_ = index;
  child_term_ = term;
  child_started_ms_ = now_unix_ms;
  spdlog::info("background snapshot at index {} started by pid {} (fork took {} ms)", index, pid,
               latest_fork_usec_ / 1000);
  return Status::Ok();
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
  if (child_ <= 0) return;
  int status = 0;
  if (waitpid(child_, &status, 0) == child_) OnChildExit(status, now_unix_ms);
  child_ = -1;
}

}  // namespace tandem::server
