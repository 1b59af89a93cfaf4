#include "snapshot/snapshot_store.h"

#include <algorithm>

#include "snapshot/snapshot_reader.h"

namespace tandem::snapshot {

namespace {
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace

Result<std::vector<SnapshotInfo>> ListSnapshots(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir);
  if (!names.ok()) {
    if (names.status().IsNotFound()) return std::vector<SnapshotInfo>{};
    return names.status();
  }
  std::vector<SnapshotInfo> out;
  for (const std::string& name : *names) {
    SnapshotInfo info;
    if (ParseSnapshotFileName(name, &info.meta.last_index, &info.meta.last_term)) {
      info.path = JoinPath(dir, name);
      out.push_back(std::move(info));
    }
  }
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    if (a.meta.last_index != b.meta.last_index) return a.meta.last_index > b.meta.last_index;
    return a.meta.last_term > b.meta.last_term;
  });
  return out;
}

namespace {
// Reads a whole snapshot once, verifying it, and hands its entries to `load`
// (when not null). Corruption for a bad file; `load`'s error is wrapped in
// a LoadError so the caller can tell it from a bad file.
struct LoadError {
  Status status;
};
Status ReadSnapshot(Env* env, const SnapshotInfo& info, const SnapshotEntryFn* load,
                    SnapshotMeta* meta, LoadError* load_error) {
  auto reader = SnapshotReader::Open(env, info.path);
  if (!reader.ok()) return reader.status();
  const SnapshotMeta& header = (*reader)->meta();
  if (header.last_index != info.meta.last_index || header.last_term != info.meta.last_term) {
    return Status::Corruption("snapshot " + info.path + ": header does not match its file name");
  }
  for (;;) {
    std::string_view entry;
    bool done = false;
    TANDEM_RETURN_IF_ERROR((*reader)->Next(&entry, &done));
    if (done) break;
    if (load == nullptr) continue;
    Status st = (*load)(entry);
    if (!st.ok()) {
      load_error->status = Status::Corruption(
          info.path + " entry " + std::to_string((*reader)->entries_read()) + ": " + st.message());
      return load_error->status;
    }
  }
  *meta = header;
  return Status::Ok();
}
}  // namespace

Result<std::optional<SnapshotInfo>> FindLatestSnapshot(Env* env, const std::string& dir,
                                                       uint64_t log_first_index,
                                                       SnapshotScanReport* report) {
  return LoadLatestSnapshot(env, dir, log_first_index, report, nullptr, nullptr);
}

Result<std::optional<SnapshotInfo>> LoadLatestSnapshot(Env* env, const std::string& dir,
                                                       uint64_t log_first_index,
                                                       SnapshotScanReport* report,
                                                       const SnapshotEntryFn& load,
                                                       const std::function<void()>& discard) {
  SnapshotScanReport local;
  if (report == nullptr) report = &local;
  auto names = env->ListDir(dir);
  if (names.ok()) {
    for (const std::string& name : *names) {
      if (EndsWith(name, kWriteTmpSuffix)) {
        std::string path = JoinPath(dir, name);
        TANDEM_RETURN_IF_ERROR(env->DeleteFile(path));
        report->removed_tmp.push_back(path);
      }
    }
  } else if (!names.status().IsNotFound()) {
    return names.status();
  }
  auto snapshots = ListSnapshots(env, dir);
  if (!snapshots.ok()) return snapshots.status();
  uint64_t needed = log_first_index > 0 ? log_first_index - 1 : 0;
  for (SnapshotInfo& info : *snapshots) {
    // The name's index is the header's once the file verifies: one that
    // cannot reach the log is only verified (for the error's wording).
    const bool reaches = info.meta.last_index >= needed;
    SnapshotMeta meta;
    LoadError load_error;
    Status st = ReadSnapshot(env, info, reaches && load ? &load : nullptr, &meta, &load_error);
    if (!load_error.status.ok()) return load_error.status;
    if (st.IsCorruption()) {
      if (reaches && discard) discard();
      report->warnings.push_back("skipping corrupt snapshot: " + st.message());
      continue;
    }
    TANDEM_RETURN_IF_ERROR(st);
    if (meta.last_index < needed) {
      return Status::Corruption("newest valid snapshot " + info.path + " ends at index " +
                                std::to_string(meta.last_index) + " but the log starts at " +
                                std::to_string(log_first_index) +
                                (report->warnings.empty() ? "" : " (") +
                                (report->warnings.empty() ? "" : report->warnings.front() + ")"));
    }
    info.meta = std::move(meta);
    return std::optional<SnapshotInfo>(std::move(info));
  }
  if (needed > 0) {
    return Status::Corruption("no valid snapshot in " + dir + " but the log starts at index " +
                              std::to_string(log_first_index));
  }
  return std::optional<SnapshotInfo>();
}

Status PruneSnapshots(Env* env, const std::string& dir, size_t keep) {
  if (keep == 0) return Status::InvalidArgument("keep must be >= 1");
  auto snapshots = ListSnapshots(env, dir);
  if (!snapshots.ok()) return snapshots.status();
  for (size_t i = keep; i < snapshots->size(); ++i) {
    Status st = env->DeleteFile((*snapshots)[i].path);
    if (!st.ok() && !st.IsNotFound()) return st;
  }
  return Status::Ok();
}

}  // namespace tandem::snapshot
