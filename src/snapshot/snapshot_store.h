// Snapshot directory management: finding the newest valid snapshot at
// startup and pruning old ones. Recovery rules: docs/formats.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/snapshot_format.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::snapshot {

struct SnapshotInfo {
  std::string path;
  SnapshotMeta meta;
};

// Completed snapshot files in dir (by name; not verified), newest first
// (highest index, then highest term).
Result<std::vector<SnapshotInfo>> ListSnapshots(Env* env, const std::string& dir);

struct SnapshotScanReport {
  std::vector<std::string> warnings;     // corrupt snapshots skipped
  std::vector<std::string> removed_tmp;  // leftover .tmp files deleted
};

// Startup: deletes leftover "*.tmp" files (a crash during a local snapshot),
// then verifies snapshots newest first and returns the first valid one.
// `log_first_index` is the WAL's first_index(): entries below it are gone,
// so the chosen snapshot must reach at least log_first_index - 1.
//  - newest valid: returned (older corrupt files ignored);
//  - newest corrupt, an older one valid and still joined to the log: returned,
//    with a warning in *report (the log replays the difference);
//  - the best valid snapshot ends before log_first_index - 1, or there is none
//    and log_first_index > 1: Corruption (falling back would lose data);
//  - no snapshot and log_first_index <= 1: nullopt (replay the whole log).
// "*.recv" files (a transfer in progress) are left for SnapshotReceiver.
Result<std::optional<SnapshotInfo>> FindLatestSnapshot(Env* env, const std::string& dir,
                                                       uint64_t log_first_index,
                                                       SnapshotScanReport* report);

// FindLatestSnapshot that also loads the chosen snapshot, reading each
// candidate once: its entries go to `load` as they are read, each only after
// its own checksum verified. A candidate found corrupt part-way (a bad
// entry, entry count or whole-file checksum) is skipped as FindLatestSnapshot
// skips it, after calling `discard` to drop what `load` got from it. So when
// this returns a snapshot, `load` saw exactly its entries, in file order, and
// the whole file verified; on any error the caller must drop what `load` got.
// An error from `load` (a checksummed entry it cannot use) is returned as
// is, naming the file and entry. Candidates that cannot reach the log are
// verified without loading (the result is Corruption anyway).
using SnapshotEntryFn = std::function<Status(std::string_view entry)>;
Result<std::optional<SnapshotInfo>> LoadLatestSnapshot(Env* env, const std::string& dir,
                                                       uint64_t log_first_index,
                                                       SnapshotScanReport* report,
                                                       const SnapshotEntryFn& load,
                                                       const std::function<void()>& discard);

// Deletes all but the newest `keep` completed snapshots (keep >= 1).
Status PruneSnapshots(Env* env, const std::string& dir, size_t keep);

}  // namespace tandem::snapshot
