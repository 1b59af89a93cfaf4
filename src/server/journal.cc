#include "server/journal.h"

#include <spdlog/spdlog.h>

#include "wal/log.h"

namespace tandem::server {
namespace {

// Entry types in the log (docs/formats.md): 1 = state-machine record.
constexpr wal::EntryType kRecordEntry = 1;
// Term of entries written by a single-node server.
constexpr uint64_t kSingleNodeTerm = 1;

// The log fsyncs by itself only for `always`; `everysec` is driven by
// PeriodicSync so the fsync can be skipped when nothing was written.
wal::SyncPolicy ToSyncPolicy(FsyncPolicy p) {
  return p == FsyncPolicy::kAlways ? wal::SyncPolicy::kAlways : wal::SyncPolicy::kNever;
}

}  // namespace

Journal::Journal() = default;
Journal::~Journal() = default;

Status Journal::Open(const Options& options) {
  options_ = options;
  wal::LogOptions log_options;
  log_options.segment_bytes = options.segment_bytes;
  // `always` fsyncs in Sync (one fdatasync per group commit); for the other
  // policies the journal decides when to fsync (PeriodicSync, shutdown).
  log_options.sync_policy = ToSyncPolicy(options.fsync);
  // Recent durable entries kept in memory for followers' catch-up reads;
  // older ones are read from disk. 64 MiB cost ~67 bytes/key at 1M keys.
  // In a cluster the replication core keeps the most recent 4 MiB itself,
  // so this cache only serves followers that lag a little further.
  log_options.cache_bytes = 2u << 20;
  wal::RecoveryReport report;
  Env* env = options.env ? options.env : Env::Default();
  auto log = wal::Log::Open(env, options.dir, log_options, &report);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  for (const auto& t : report.truncations) {
    spdlog::warn("log recovery: cut {} bytes at {} offset {} ({})", t.bytes, t.file, t.offset,
                 t.reason);
  }
  acked_index_ = log_->last_index();
  return Status::Ok();
}

Status Journal::Replay(uint64_t after, const ReplayFn& replay) {
  if (log_->last_index() <= after) return Status::Ok();
  if (after + 1 < log_->first_index()) {
    return Status::Corruption("the log starts at index " + std::to_string(log_->first_index()) +
                              " but the state ends at " + std::to_string(after) +
                              ": the entries in between are missing");
  }
  return log_->ForEach(after + 1, [&](const wal::EntryView& e) {
    if (e.type != kRecordEntry) return Status::Ok();
    return replay(e.index, e.payload);
  });
}

Status Journal::StartAt(uint64_t next_index) {
  TANDEM_RETURN_IF_ERROR(log_->Reset(next_index, kSingleNodeTerm));
  acked_index_ = log_->last_index();
  return Status::Ok();
}

uint64_t Journal::Append(std::string_view payload) {
  wal::EntryView e{kSingleNodeTerm, log_->last_index() + 1, kRecordEntry, payload};
  Status st = log_->Append(e);
  // Append only fails on a caller bug (index order, oversized payload: the
  // protocol limit keeps payloads under the log's limit).
  if (!st.ok()) spdlog::critical("log append refused: {}", st.ToString());
  bytes_since_snapshot_ += payload.size() + wal::kRecordHeaderSize;
  return log_->last_index();
}

Status Journal::AppendEntry(uint64_t term, uint64_t index, uint8_t type, std::string_view payload) {
  TANDEM_RETURN_IF_ERROR(log_->Append(wal::EntryView{term, index, type, payload}));
  bytes_since_snapshot_ += payload.size() + wal::kRecordHeaderSize;
  return Status::Ok();
}

Status Journal::TruncateAfter(uint64_t index) {
  TANDEM_RETURN_IF_ERROR(log_->TruncateSuffix(index));
  acked_index_ = std::min(acked_index_, index);
  return Status::Ok();
}

Status Journal::ResetTo(uint64_t next_index, uint64_t prev_term) {
  TANDEM_RETURN_IF_ERROR(log_->Reset(next_index, prev_term));
  acked_index_ = log_->last_index();
  bytes_since_snapshot_ = 0;
  return Status::Ok();
}

Status Journal::ForEachEntry(
    uint64_t from, const std::function<Status(uint64_t, uint64_t, uint8_t, std::string_view)>& fn) {
  if (log_->last_index() < from) return Status::Ok();
  return log_->ForEach(std::max(from, log_->first_index()), [&](const wal::EntryView& e) {
    return fn(e.term, e.index, e.type, e.payload);
  });
}

uint64_t Journal::last_term() const { return log_->last_term(); }

Status Journal::ReadEntries(
    uint64_t from, uint64_t to, size_t max_bytes,
    const std::function<void(uint64_t, uint64_t, uint8_t, std::string)>& fn) {
  std::vector<wal::LogEntry> entries;
  TANDEM_RETURN_IF_ERROR(log_->Read(from, max_bytes, &entries));
  for (wal::LogEntry& e : entries) {
    if (e.index > to) break;
    fn(e.term, e.index, e.type, std::move(e.payload));
  }
  return Status::Ok();
}

Status Journal::Flush(int64_t now_monotonic_ms) {
  auto acked = log_->Sync();
  if (!acked.ok()) {
    failure_ = acked.status();
    return failure_;
  }
  NoteFlushed(*acked, now_monotonic_ms);
  return Status::Ok();
}

void Journal::NoteFlushed(uint64_t acked, int64_t now_monotonic_ms) {
  if (acked > acked_index_) ++flushes_;
  acked_index_ = acked;
  if (options_.fsync == FsyncPolicy::kAlways) {
    synced_index_ = acked;
    last_fsync_ms_ = now_monotonic_ms;
  }
}

Status Journal::StartFlush(int64_t now_monotonic_ms) {
  if (options_.fsync != FsyncPolicy::kAlways) return Flush(now_monotonic_ms);
  Status st = log_->StartBackgroundSync();
  if (!st.ok()) failure_ = st;
  return st;
}

Status Journal::FinishFlush(int64_t now_monotonic_ms) {
  Status st = log_->FinishBackgroundSync();
  if (!st.ok()) {
    failure_ = st;
    return st;
  }
  // Under `always` the log's durable index is what a client may see (a
  // blocking Flush in between may have moved it already).
  if (options_.fsync == FsyncPolicy::kAlways && log_->durable_index() > acked_index_) {
    NoteFlushed(log_->durable_index(), now_monotonic_ms);
  }
  return Status::Ok();
}

bool Journal::flush_running() const { return log_->background_sync_running(); }

void Journal::SetFlushDone(std::function<void()> done) {
  if (!done) (void)log_->WaitForBackgroundSync();
  log_->SetBackgroundSyncDone(std::move(done));
}

uint64_t Journal::TermAt(uint64_t index) const {
  auto term = log_->TermAt(index);
  return term.ok() ? *term : 0;
}

Status Journal::FlushAndSync(int64_t now_monotonic_ms) {
  auto durable = log_->SyncAll();
  if (!durable.ok()) {
    failure_ = durable.status();
    return failure_;
  }
  acked_index_ = *durable;
  synced_index_ = *durable;
  last_fsync_ms_ = now_monotonic_ms;
  return Status::Ok();
}

Status Journal::PeriodicSync(int64_t now_monotonic_ms) {
  if (options_.fsync != FsyncPolicy::kEverySec || now_monotonic_ms - last_fsync_ms_ < 1000) {
    return Status::Ok();
  }
  // Only what was already written (acknowledged) is fsync'd here; entries of
  // the current loop turn go out with the next Flush.
  if (synced_index_ >= acked_index_) {
    last_fsync_ms_ = now_monotonic_ms;
    return Status::Ok();
  }
  return FlushAndSync(now_monotonic_ms);
}

Status Journal::Rollback() {
  if (log_->last_index() <= acked_index_) return Status::Ok();
  return log_->TruncateSuffix(acked_index_);
}

Status Journal::CompactUpTo(uint64_t index) {
  return log_->CompactPrefix(std::min(index, acked_index_));
}

uint64_t Journal::first_index() const { return log_->first_index(); }
uint64_t Journal::last_index() const { return log_->last_index(); }
uint64_t Journal::durable_index() const { return acked_index_; }

void Journal::set_fsync_policy(FsyncPolicy p) {
  options_.fsync = p;
  if (log_) log_->set_sync_policy(ToSyncPolicy(p));
}

}  // namespace tandem::server
