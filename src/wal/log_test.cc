#include "wal/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>

#include "util/testing/temp_dir.h"

namespace tandem::wal {
namespace {

std::string PayloadFor(uint64_t index) {
  return "value-" + std::to_string(index) + std::string(index % 7, 'x');
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    dir_ = root_ + "/wal";
  }
  void TearDown() override { log_.reset(); }

  Status OpenLog(LogOptions options = {}) {
    log_.reset();
    report_ = RecoveryReport{};
    auto log = Log::Open(&env_, dir_, options, &report_);
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    return Status::Ok();
  }

  static LogOptions Small(SyncPolicy policy = SyncPolicy::kAlways) {
    LogOptions o;
    o.segment_bytes = 1024;
    o.sync_policy = policy;
    return o;
  }

  // Appends [from, to] with term `term`.
  void AppendRange(uint64_t from, uint64_t to, uint64_t term = 1) {
    for (uint64_t i = from; i <= to; ++i) {
      std::string payload = PayloadFor(i);
      ASSERT_TRUE(log_->Append(EntryView{term, i, static_cast<EntryType>(i % 4), payload}).ok())
          << i;
    }
  }

  // Checks the log holds exactly [first, last] with the expected payloads.
  void ExpectEntries(uint64_t first, uint64_t last) {
    ASSERT_EQ(log_->first_index(), first);
    ASSERT_EQ(log_->last_index(), last);
    std::vector<uint64_t> seen;
    Status st = log_->ForEach(first, [&](const EntryView& e) {
      EXPECT_EQ(e.payload, PayloadFor(e.index));
      EXPECT_EQ(e.type, static_cast<EntryType>(e.index % 4));
      seen.push_back(e.index);
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(seen.size(), last + 1 - first);
    for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], first + i);
  }

  // Writes entries 1..last to a new log, syncs and closes it; *segments
  // are its segment files, oldest first.
  void WriteSyncedLog(uint64_t last, std::vector<std::string>* segments,
                      LogOptions options = {}) {
    ASSERT_TRUE(OpenLog(options).ok());
    AppendRange(1, last);
    ASSERT_TRUE(log_->Sync().ok());
    log_.reset();
    *segments = SegmentFiles();
  }

  // Reopens the log and expects entries 1..last, recovered without any
  // truncation reported.
  void ExpectReopensClean(uint64_t last, LogOptions options = {}) {
    ASSERT_TRUE(OpenLog(options).ok());
    ExpectEntries(1, last);
    EXPECT_TRUE(report_.truncations.empty());
  }

  std::vector<std::string> SegmentFiles() {
    auto names = env_.ListDir(dir_);
    std::vector<std::string> out;
    for (auto& n : *names) {
      uint64_t first;
      if (ParseSegmentFileName(n, &first)) out.push_back(JoinPath(dir_, n));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string ReadFile(const std::string& path) {
    std::string data;
    EXPECT_TRUE(env_.ReadFileToString(path, &data).ok()) << path;
    return data;
  }

  void WriteFile(const std::string& path, std::string_view data) {
    ASSERT_TRUE(env_.TruncateFile(path, 0).ok());
    auto f = env_.OpenFile(path, OpenMode::kReadWrite);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(0, data).ok());
  }

  // Offset just past the last valid record of a segment file.
  uint64_t DataEnd(const std::string& path) { return ScanSegment(ReadFile(path)).valid_end; }

  static bool AllZeroFrom(const std::string& data, size_t from) {
    return std::all_of(data.begin() + static_cast<std::ptrdiff_t>(from), data.end(),
                       [](char c) { return c == 0; });
  }

  // Background sync: counts the sync thread's "done" calls.
  void CountBackgroundSyncs() {
    log_->SetBackgroundSyncDone([this] {
      std::lock_guard lock(done_mu_);
      ++done_count_;
      done_cv_.notify_all();
    });
  }
  // Waits until the sync thread has said `n` background fsyncs ended.
  void WaitForSyncsDone(int n) {
    std::unique_lock lock(done_mu_);
    ASSERT_TRUE(done_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_count_ >= n; }))
        << "background fsync " << n << " never ended";
  }
  // Starts a background sync, waits for it to end and applies it.
  Status BackgroundSync() {
    Status st = log_->StartBackgroundSync();
    if (!st.ok()) return st;
    if (!log_->background_sync_running()) return Status::Ok();
    int n;
    {
      std::lock_guard lock(done_mu_);
      n = done_count_ + 1;
    }
    WaitForSyncsDone(n);
    return log_->FinishBackgroundSync();
  }

  // Random faults: `rounds` rounds of 1-8 appends, then a write or an fsync
  // fault (each one time in `fault_odds`), then `sync`, which returns the
  // index the log now calls durable (nullopt: none this time); now and then
  // a crash, after which every index ever called durable must be there, with
  // no duplicates and no gaps. The log is open (Small()) when it starts.
  using SyncStep = std::function<std::optional<uint64_t>(const std::function<uint64_t()>& next)>;
  void RunRandomFaults(uint64_t seed, int rounds, uint64_t fault_odds, const SyncStep& sync) {
    std::function<uint64_t()> next = [&seed]() {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      return seed >> 33;
    };
    uint64_t durable = 0;
    for (int round = 0; round < rounds; ++round) {
      uint64_t n = 1 + next() % 8;
      AppendRange(log_->last_index() + 1, log_->last_index() + n);
      switch (next() % fault_odds) {
        case 0:
          env_.FailWrites(ENOSPC, static_cast<int>(next() % 3), next() % 2);
          break;
        case 1:
          env_.FailSyncs(EIO, static_cast<int>(next() % 3), next() % 2);
          break;
        default:
          env_.ClearFaults();
          break;
      }
      if (auto d = sync(next)) {
        EXPECT_GE(*d, durable) << "round " << round;
        durable = *d;
      }
      if (next() % 25 == 0) {
        env_.ClearFaults();
        log_.reset();
        ASSERT_TRUE(env_.SimulateCrash().ok());
        ASSERT_TRUE(OpenLog(Small()).ok()) << "round " << round;
        CountBackgroundSyncs();
        ASSERT_GE(log_->last_index(), durable) << "round " << round;
        ExpectEntries(1, log_->last_index());
        durable = log_->last_index();
      }
    }
    env_.ClearFaults();
    ASSERT_TRUE(log_->Sync().ok());
    uint64_t last = log_->last_index();
    ASSERT_TRUE(OpenLog(Small()).ok());
    ExpectEntries(1, last);
  }

  testing::TempDir tmp_{"tandem_wal_test"};
  std::string root_, dir_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  int done_count_ = 0;
  FaultInjectionEnv env_{Env::Default()};
  std::unique_ptr<Log> log_;
  RecoveryReport report_;
};

TEST_F(LogTest, EmptyDirGivesEmptyLog) {
  ASSERT_TRUE(OpenLog().ok());
  EXPECT_EQ(log_->first_index(), 1u);
  EXPECT_EQ(log_->last_index(), 0u);
  EXPECT_EQ(*log_->TermAt(0), 0u);
  EXPECT_TRUE(log_->TermAt(1).status().IsNotFound());
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(1, 100, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(*log_->Sync(), 0u);
  ASSERT_TRUE(OpenLog().ok());
  EXPECT_EQ(log_->last_index(), 0u);
  EXPECT_EQ(report_.segments, 0u);
}

TEST_F(LogTest, AppendSyncReopen) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 100);
  EXPECT_EQ(log_->durable_index(), 0u);
  auto acked = log_->Sync();
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(*acked, 100u);
  EXPECT_EQ(log_->durable_index(), 100u);
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(100));
}

TEST_F(LogTest, AppendRejectsGapsAndTermRegression) {
  ASSERT_TRUE(OpenLog().ok());
  EXPECT_FALSE(log_->Append(EntryView{1, 2, 0, "x"}).ok());
  ASSERT_TRUE(log_->Append(EntryView{3, 1, 0, "x"}).ok());
  EXPECT_FALSE(log_->Append(EntryView{2, 2, 0, "x"}).ok());
  EXPECT_FALSE(log_->Append(EntryView{3, 1, 0, "x"}).ok());
  EXPECT_EQ(log_->last_index(), 1u);
}

TEST_F(LogTest, OneWriteAndOneFsyncPerSync) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 1);
  ASSERT_TRUE(log_->Sync().ok());  // creates the segment
  int writes = env_.write_calls(), syncs = env_.sync_calls();
  AppendRange(2, 200);
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(env_.write_calls() - writes, 1);
  EXPECT_EQ(env_.sync_calls() - syncs, 1);
}

TEST_F(LogTest, SegmentRolloverAndReadAcrossSegments) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  for (uint64_t i = 1; i <= 300; i += 10) {
    AppendRange(i, i + 9, 1 + i / 100);
    ASSERT_TRUE(log_->Sync().ok());
  }
  EXPECT_GT(SegmentFiles().size(), 5u);
  for (const auto& path : SegmentFiles()) EXPECT_LE(*env_.FileSize(path), 1024u);
  EXPECT_EQ(*log_->TermAt(100), 1u);
  EXPECT_EQ(*log_->TermAt(101), 2u);
  EXPECT_EQ(*log_->TermAt(300), 3u);
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 300);
  EXPECT_EQ(*log_->TermAt(250), 3u);
  // Bounded reads from disk.
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(37, 50, &out).ok());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front().index, 37u);
  EXPECT_LT(out.size(), 10u);
  out.clear();
  ASSERT_TRUE(log_->Read(300, 1, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, PayloadFor(300));
}

TEST_F(LogTest, ReadFromSmallCacheFallsBackToDisk) {
  LogOptions o = Small();
  o.cache_bytes = 200;
  ASSERT_TRUE(OpenLog(o).ok());
  for (uint64_t i = 1; i <= 200; i += 20) {
    AppendRange(i, i + 19);
    ASSERT_TRUE(log_->Sync().ok());
  }
  ExpectEntries(1, 200);
}

TEST_F(LogTest, TornTailEveryTruncationPoint) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(5, &files));
  std::string path = files.back();
  std::string full = ReadFile(path);
  full.resize(DataEnd(path));  // without the preallocated zeros
  size_t last_start = full.size() - EncodedRecordSize(PayloadFor(5).size());
  // zeros = 0: the file ends inside the record (a torn append); otherwise
  // the rest of the record and what follows is zeros (a torn write into
  // preallocated space).
  for (size_t zeros : {size_t{0}, size_t{3000}}) {
    for (size_t len = last_start + 1; len < full.size(); ++len) {
      SCOPED_TRACE(std::to_string(len) + " + " + std::to_string(zeros) + " zeros");
      WriteFile(path, full.substr(0, len) + std::string(zeros, '\0'));
      ASSERT_TRUE(OpenLog().ok());
      ExpectEntries(1, 4);
      ASSERT_EQ(report_.truncations.size(), 1u);
      EXPECT_EQ(report_.truncations[0].file, path);
      EXPECT_EQ(report_.truncations[0].offset, last_start);
      EXPECT_EQ(report_.truncations[0].bytes, len + zeros - last_start);
      EXPECT_EQ(*env_.FileSize(path), last_start);
      // The log continues cleanly after the cut.
      AppendRange(5, 5);
      ASSERT_TRUE(log_->Sync().ok());
      log_.reset();
    }
  }
}

TEST_F(LogTest, FlippedBitInMiddleIsCorruptionNamingFileAndOffset) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(10, &files));
  std::string path = files.back();
  std::string data;
  ASSERT_TRUE(env_.ReadFileToString(path, &data).ok());
  uint64_t third = kSegmentHeaderSize + EncodedRecordSize(PayloadFor(1).size()) +
                   EncodedRecordSize(PayloadFor(2).size());
  data[third + kRecordHeaderSize + 1] ^= 0x04;
  auto f = env_.OpenFile(path, OpenMode::kReadWrite);
  ASSERT_TRUE((*f)->WriteAt(0, data).ok());
  f->reset();
  Status st = OpenLog();
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("offset " + std::to_string(third)), std::string::npos)
      << st.message();
  // Nothing was repaired.
  EXPECT_EQ(*env_.FileSize(path), data.size());
}

TEST_F(LogTest, TornTailInNonLastSegmentIsCorruption) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(100, &files, Small()));
  ASSERT_GE(files.size(), 3u);
  uint64_t size = *env_.FileSize(files[1]);
  ASSERT_TRUE(env_.TruncateFile(files[1], size - 3).ok());
  Status st = OpenLog(Small());
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find(files[1]), std::string::npos);
}

TEST_F(LogTest, MissingMiddleSegmentIsCorruption) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(100, &files, Small()));
  ASSERT_GE(files.size(), 3u);
  ASSERT_TRUE(env_.DeleteFile(files[1]).ok());
  Status st = OpenLog(Small());
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("missing segment"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(files[2]), std::string::npos) << st.message();
}

TEST_F(LogTest, TruncateSuffixAcrossSegments) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 100, 1);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(101, 120, 2);  // unsynced part
  size_t files_before = SegmentFiles().size();
  ASSERT_TRUE(log_->TruncateSuffix(30).ok());
  EXPECT_EQ(log_->last_index(), 30u);
  EXPECT_EQ(log_->durable_index(), 30u);
  EXPECT_EQ(log_->last_term(), 1u);
  EXPECT_LT(SegmentFiles().size(), files_before);
  // Conflicting entries replaced by a new term.
  AppendRange(31, 40, 3);
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(*log_->TermAt(31), 3u);
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 40);
  EXPECT_EQ(*log_->TermAt(30), 1u);
  EXPECT_EQ(*log_->TermAt(40), 3u);
  // Truncating everything leaves an empty log at the same start.
  ASSERT_TRUE(log_->TruncateSuffix(0).ok());
  EXPECT_EQ(log_->last_index(), 0u);
  EXPECT_TRUE(log_->TruncateSuffix(0).ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  EXPECT_EQ(log_->last_index(), 0u);
  AppendRange(1, 3, 5);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 3);
}

TEST_F(LogTest, TruncateSuffixInsideUnsyncedBlock) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 10);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(11, 20);
  ASSERT_TRUE(log_->TruncateSuffix(15).ok());
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(OpenLog().ok());
  ExpectEntries(1, 15);
}

TEST_F(LogTest, CompactPrefixDeletesWholeSegments) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 50, 1);
  AppendRange(51, 100, 2);
  ASSERT_TRUE(log_->Sync().ok());
  size_t before = SegmentFiles().size();
  ASSERT_TRUE(log_->CompactPrefix(60).ok());
  uint64_t first = log_->first_index();
  EXPECT_GT(first, 1u);
  EXPECT_LE(first, 61u);
  ASSERT_TRUE(log_->WaitForFileDeletions().ok());
  EXPECT_LT(SegmentFiles().size(), before);
  EXPECT_TRUE(log_->TermAt(first - 1).ok());
  EXPECT_TRUE(log_->TermAt(first - 2).status().IsNotFound());
  std::vector<LogEntry> out;
  EXPECT_TRUE(log_->Read(1, 100, &out).IsNotFound());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(first, 100);
  EXPECT_EQ(*log_->TermAt(first - 1), first - 1 <= 50 ? 1u : 2u);
  // Compaction never deletes the last segment.
  ASSERT_TRUE(log_->CompactPrefix(1000).ok());
  EXPECT_EQ(log_->last_index(), 100u);
  EXPECT_LE(log_->first_index(), 100u);
}

// The files of compacted segments are deleted in the background: the loop
// does not wait for the file system, and until they are gone (or after a
// crash before that) the directory holds a longer, still valid log.
TEST_F(LogTest, CompactPrefixDoesNotWaitForTheFilesToBeDeleted) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 100);
  ASSERT_TRUE(log_->Sync().ok());
  std::vector<std::string> files = SegmentFiles();
  ASSERT_GE(files.size(), 3u);
  env_.HoldDeletes(true);
  ASSERT_TRUE(log_->CompactPrefix(80).ok());  // returns with every delete held
  uint64_t first = log_->first_index();
  EXPECT_GT(first, 1u);
  std::vector<LogEntry> out;
  EXPECT_TRUE(log_->Read(1, 100, &out).IsNotFound());
  EXPECT_EQ(SegmentFiles(), files);  // nothing deleted yet
  AppendRange(101, 110);  // the log goes on meanwhile
  ASSERT_TRUE(log_->Sync().ok());
  env_.HoldDeletes(false);
  ASSERT_TRUE(log_->WaitForFileDeletions().ok());
  std::vector<std::string> now = SegmentFiles();
  EXPECT_EQ(std::count(now.begin(), now.end(), files.front()), 0);
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(first, 110);
}

// A crash before the deletions ran, or a deletion that fails: recovery
// finds the old segments in front of the kept ones, a longer log with no gap
// (nothing after a failed deletion is deleted), and a later compaction
// deletes them.
TEST_F(LogTest, UndeletedCompactedSegmentsLeaveALongerLogWithoutAGap) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 100);
  ASSERT_TRUE(log_->Sync().ok());
  std::vector<std::string> files = SegmentFiles();
  env_.HoldDeletes(true);
  env_.FailDeletes(EIO);
  ASSERT_TRUE(log_->CompactPrefix(80).ok());
  uint64_t compacted_first = log_->first_index();
  EXPECT_GT(compacted_first, 1u);
  env_.HoldDeletes(false);
  EXPECT_FALSE(log_->WaitForFileDeletions().ok());
  EXPECT_EQ(SegmentFiles(), files);
  // Reset must not delete the newer segments while the older ones stay.
  EXPECT_FALSE(log_->Reset(1001, 3).ok());
  EXPECT_EQ(SegmentFiles(), files);
  ASSERT_TRUE(OpenLog(Small()).ok());  // the deleter gives up as a crash would
  EXPECT_EQ(log_->first_index(), 1u);
  ExpectEntries(1, 100);
  EXPECT_TRUE(report_.truncations.empty());
  env_.FailDeletes(0);
  ASSERT_TRUE(log_->CompactPrefix(80).ok());
  ASSERT_TRUE(log_->WaitForFileDeletions().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  EXPECT_EQ(log_->first_index(), compacted_first);
  ExpectEntries(compacted_first, 100);
}

TEST_F(LogTest, ResetRestartsAtSnapshotIndex) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 50);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(log_->Reset(1001, 7).ok());
  EXPECT_EQ(log_->first_index(), 1001u);
  EXPECT_EQ(log_->last_index(), 1000u);
  EXPECT_EQ(*log_->TermAt(1000), 7u);
  EXPECT_EQ(SegmentFiles().size(), 1u);
  ASSERT_TRUE(OpenLog(Small()).ok());  // durable without any append
  EXPECT_EQ(log_->first_index(), 1001u);
  EXPECT_EQ(*log_->TermAt(1000), 7u);
  EXPECT_FALSE(log_->Append(EntryView{6, 1001, 0, "x"}).ok());
  AppendRange(1001, 1010, 7);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1001, 1010);
}

TEST_F(LogTest, CrashDropsUnsyncedEntriesOnly) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 40);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(41, 80);  // never synced: lost in the crash
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 40);
}

TEST_F(LogTest, CrashAfterWriteWithoutFsyncUnderNeverPolicy) {
  ASSERT_TRUE(OpenLog(Small(SyncPolicy::kNever)).ok());
  AppendRange(1, 40);
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(env_.sync_calls(), 0);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(OpenLog(Small(SyncPolicy::kNever)).ok());
  EXPECT_EQ(log_->last_index(), 0u);
}

TEST_F(LogTest, EverySecondFsyncsFromTimer) {
  ASSERT_TRUE(OpenLog(Small(SyncPolicy::kEverySecond)).ok());
  AppendRange(1, 30);
  auto acked = log_->Sync();
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(*acked, 30u);  // written: ackable under everysec
  EXPECT_EQ(log_->durable_index(), 0u);
  ASSERT_TRUE(log_->MaybeSyncPeriodic(1000).ok());
  EXPECT_EQ(log_->durable_index(), 30u);
  AppendRange(31, 40);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(log_->MaybeSyncPeriodic(1500).ok());  // too soon
  EXPECT_EQ(log_->durable_index(), 30u);
  ASSERT_TRUE(log_->MaybeSyncPeriodic(2000).ok());
  EXPECT_EQ(log_->durable_index(), 40u);
  AppendRange(41, 50);
  ASSERT_TRUE(log_->Sync().ok());
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(OpenLog(Small(SyncPolicy::kEverySecond)).ok());
  // 41.. were never fsync'd by the timer, but rolling to a new segment
  // fsyncs the closed one (after cutting its preallocated zeros), so the
  // entries in it may survive; the newest segment's do not.
  EXPECT_GE(log_->last_index(), 40u);
  EXPECT_LT(log_->last_index(), 50u);
  ExpectEntries(1, log_->last_index());
}

// ENOSPC on write (with a short write leaving junk), then space returns.
TEST_F(LogTest, NoSpaceDuringWriteThenRecovery) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 20);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(21, 60);
  env_.FailWrites(ENOSPC, 0, /*short_write=*/true);
  auto r = log_->Sync();
  ASSERT_TRUE(r.status().IsNoSpace()) << r.status().ToString();
  EXPECT_EQ(log_->durable_index(), 20u);
  // Still readable from memory; more appends keep buffering.
  EXPECT_EQ(*log_->TermAt(60), 1u);
  AppendRange(61, 70);
  EXPECT_TRUE(log_->Sync().status().IsNoSpace());
  env_.ClearFaults();
  auto ok = log_->Sync();
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, 70u);
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(70, Small()));
}

// fsync fails with EIO and the kernel drops the dirty pages: the log must
// rewrite everything after the last durable point.
TEST_F(LogTest, FsyncFailureDropsPagesThenRewrite) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 20);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(21, 70);  // spans a rollover
  env_.FailSyncs(EIO, 0, /*drop_unsynced=*/true);
  auto r = log_->Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(log_->durable_index(), 20u);
  EXPECT_EQ(log_->written_index(), 20u);
  env_.ClearFaults();
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(log_->durable_index(), 70u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 70);
}

TEST_F(LogTest, FsyncFailureOnNewSegmentThenCrash) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 20);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(21, 70);
  env_.FailSyncs(ENOSPC, 0, /*drop_unsynced=*/true);
  EXPECT_TRUE(log_->Sync().status().IsNoSpace());
  log_.reset();  // crash before space returns: only acknowledged entries remain
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 20);
  AppendRange(21, 30);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 30);
}

// Random mix of faults: every acknowledged index survives a crash, no
// duplicates, no gaps.
TEST_F(LogTest, RandomFaultsNeverLoseAcknowledgedEntries) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  RunRandomFaults(12345, 200, 6, [&](const std::function<uint64_t()>&) {
    auto r = log_->Sync();
    return r.ok() ? std::optional<uint64_t>(*r) : std::nullopt;
  });
}

// ---- Background sync (the fsync on the log's sync thread) ----

TEST_F(LogTest, BackgroundSyncMakesEntriesDurableWhenFinished) {
  ASSERT_TRUE(OpenLog().ok());
  CountBackgroundSyncs();
  AppendRange(1, 50);
  ASSERT_TRUE(log_->StartBackgroundSync().ok());
  EXPECT_TRUE(log_->background_sync_running());
  EXPECT_EQ(log_->written_index(), 50u);
  EXPECT_EQ(log_->durable_index(), 0u);  // until the owner applies the result
  WaitForSyncsDone(1);
  EXPECT_EQ(log_->durable_index(), 0u);
  ASSERT_TRUE(log_->FinishBackgroundSync().ok());
  EXPECT_FALSE(log_->background_sync_running());
  EXPECT_EQ(log_->durable_index(), 50u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(50));
}

TEST_F(LogTest, EntriesWrittenDuringABackgroundSyncWaitForTheNext) {
  ASSERT_TRUE(OpenLog().ok());
  CountBackgroundSyncs();
  AppendRange(1, 10);
  ASSERT_TRUE(log_->StartBackgroundSync().ok());
  AppendRange(11, 20);
  ASSERT_TRUE(log_->StartBackgroundSync().ok());  // writes 11..20, no second fsync yet
  EXPECT_EQ(log_->written_index(), 20u);
  WaitForSyncsDone(1);
  ASSERT_TRUE(log_->FinishBackgroundSync().ok());
  EXPECT_EQ(log_->durable_index(), 10u);  // what the running fsync covered
  EXPECT_FALSE(log_->background_sync_running());
  ASSERT_TRUE(BackgroundSync().ok());
  EXPECT_EQ(log_->durable_index(), 20u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(20));
}

TEST_F(LogTest, TruncateSuffixWaitsForTheBackgroundSync) {
  ASSERT_TRUE(OpenLog().ok());
  CountBackgroundSyncs();
  AppendRange(1, 30);
  ASSERT_TRUE(log_->StartBackgroundSync().ok());
  ASSERT_TRUE(log_->TruncateSuffix(20).ok());
  EXPECT_FALSE(log_->background_sync_running());  // waited for and applied
  EXPECT_EQ(log_->durable_index(), 20u);
  AppendRange(21, 25, /*term=*/2);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(log_->FinishBackgroundSync().ok());  // nothing left to apply
  EXPECT_EQ(log_->durable_index(), 25u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(25));
  EXPECT_EQ(*log_->TermAt(25), 2u);
}

TEST_F(LogTest, FailedBackgroundSyncIsReportedAndRewritten) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  CountBackgroundSyncs();
  AppendRange(1, 10);
  ASSERT_TRUE(log_->Sync().ok());
  AppendRange(11, 20);
  env_.FailSyncs(EIO, 0, /*drop_unsynced=*/true);
  Status st = BackgroundSync();
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_EQ(log_->durable_index(), 10u);
  EXPECT_EQ(log_->written_index(), 10u);  // the page cache is not trusted
  env_.ClearFaults();
  ASSERT_TRUE(BackgroundSync().ok());
  EXPECT_EQ(log_->durable_index(), 20u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(20, Small()));
}

TEST_F(LogTest, RollingToANewSegmentWaitsForTheBackgroundSync) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  CountBackgroundSyncs();
  AppendRange(1, 10);
  ASSERT_TRUE(log_->StartBackgroundSync().ok());
  AppendRange(11, 100);  // several 1 KiB segments
  ASSERT_TRUE(BackgroundSync().ok());
  EXPECT_EQ(log_->durable_index(), 100u);
  EXPECT_GT(SegmentFiles().size(), 3u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(100, Small()));
}

// Random faults with background syncs, finished at random later points and
// interleaved with more appends: every index the log called durable
// survives a crash, no duplicates, no gaps.
TEST_F(LogTest, RandomFaultsWithBackgroundSyncsNeverLoseDurableEntries) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  CountBackgroundSyncs();
  RunRandomFaults(777, 300, 8, [&](const std::function<uint64_t()>& next) {
    if (!log_->StartBackgroundSync().ok() && log_->written_index() < log_->last_index() &&
        next() % 2 == 0) {
      // A failed write: the owner rolls back what is not durable (Journal).
      env_.ClearFaults();
      EXPECT_TRUE(log_->TruncateSuffix(log_->durable_index()).ok());
    }
    if (next() % 3 == 0) (void)log_->WaitForBackgroundSync();
    (void)log_->FinishBackgroundSync();
    return std::optional<uint64_t>(log_->durable_index());
  });
}

// ---- Preallocation (zeros written ahead of the tail segment's data) ----

TEST_F(LogTest, TailSegmentIsPreallocatedWithZeros) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 100);
  ASSERT_TRUE(log_->Sync().ok());
  std::string path = SegmentFiles().back();
  std::string data = ReadFile(path);
  uint64_t end = DataEnd(path);
  EXPECT_GE(data.size(), end + kPreallocateStep);
  EXPECT_EQ(data.size() % kPreallocateStep, 0u);
  EXPECT_TRUE(AllZeroFrom(data, end));
  // Later group commits overwrite the zeros: the file does not grow.
  int writes = env_.write_calls();
  AppendRange(101, 200);
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(env_.write_calls() - writes, 1);
  EXPECT_EQ(*env_.FileSize(path), data.size());
  EXPECT_GT(DataEnd(path), end);
  // Past the zeros, the same Sync extends the file again.
  std::string big(600 << 10, 'b');
  uint64_t size = data.size();
  for (uint64_t i = 201; i <= 210; ++i) {
    ASSERT_TRUE(log_->Append(EntryView{1, i, 0, big}).ok());
    ASSERT_TRUE(log_->Sync().ok());
    uint64_t now = *env_.FileSize(path);
    EXPECT_GE(now, DataEnd(path) + (now > size ? kPreallocateStep : 1)) << i;
    size = now;
  }
  EXPECT_GT(size, data.size());
  EXPECT_TRUE(AllZeroFrom(ReadFile(path), DataEnd(path)));
  ASSERT_TRUE(OpenLog().ok());
  EXPECT_EQ(log_->last_index(), 210u);
  EXPECT_TRUE(report_.truncations.empty());
}

TEST_F(LogTest, PreallocationStopsAtSegmentBytes) {
  LogOptions o;
  o.segment_bytes = (kPreallocateStep * 3) / 2;
  ASSERT_TRUE(OpenLog(o).ok());
  std::string big(100 << 10, 'b');
  for (uint64_t i = 1; i <= 30; ++i) {
    ASSERT_TRUE(log_->Append(EntryView{1, i, 0, big}).ok());
    ASSERT_TRUE(log_->Sync().ok());
    for (const auto& path : SegmentFiles()) EXPECT_LE(*env_.FileSize(path), o.segment_bytes);
  }
  EXPECT_GE(SegmentFiles().size(), 2u);
  // One record larger than segment_bytes: its segment holds just it.
  std::string huge(o.segment_bytes + 10, 'h');
  ASSERT_TRUE(log_->Append(EntryView{1, 31, 0, huge}).ok());
  ASSERT_TRUE(log_->Sync().ok());
  std::string path = SegmentFiles().back();
  EXPECT_EQ(*env_.FileSize(path), DataEnd(path));
  ASSERT_TRUE(log_->Append(EntryView{1, 32, 0, "x"}).ok());
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(*env_.FileSize(path), DataEnd(path));  // closed
  ASSERT_TRUE(OpenLog(o).ok());
  EXPECT_EQ(log_->last_index(), 32u);
}

TEST_F(LogTest, CrashWithPreallocatedTailRecoversSyncedEntriesWithoutReport) {
  for (SyncPolicy policy : {SyncPolicy::kAlways, SyncPolicy::kEverySecond}) {
    SCOPED_TRACE(static_cast<int>(policy));
    std::filesystem::remove_all(dir_);
    LogOptions o;
    o.sync_policy = policy;
    ASSERT_TRUE(OpenLog(o).ok());
    for (uint64_t i = 1; i <= 300; i += 30) {
      AppendRange(i, i + 29);
      ASSERT_TRUE(log_->Sync().ok());
    }
    ASSERT_TRUE(log_->MaybeSyncPeriodic(1 << 30).ok());
    EXPECT_EQ(log_->durable_index(), 300u);
    AppendRange(301, 320);  // never synced
    std::string path = SegmentFiles().back();
    EXPECT_GT(*env_.FileSize(path), DataEnd(path));
    log_.reset();  // no close: a crash
    ASSERT_TRUE(env_.SimulateCrash().ok());
    EXPECT_GT(*env_.FileSize(path), DataEnd(path));  // the zeros were synced
    ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(300, o));
    EXPECT_EQ(*env_.FileSize(path), DataEnd(path));  // zero tail cut
    AppendRange(301, 310);
    ASSERT_TRUE(log_->SyncAll().ok());
    EXPECT_GT(*env_.FileSize(path), DataEnd(path));  // preallocated again
    log_.reset();
    ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(310, o));
    log_.reset();
  }
}

TEST_F(LogTest, TornRecordInsidePreallocatedSpaceIsCutAndReported) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(10, &files));
  std::string path = files.back();
  std::string data = ReadFile(path);
  uint64_t end = DataEnd(path);
  ASSERT_GT(data.size(), end);
  uint64_t last_start = end - EncodedRecordSize(PayloadFor(10).size());
  // The last write reached the disk only in part: the end of record 10's
  // payload is still the preallocated zeros.
  for (uint64_t i = last_start + kRecordHeaderSize + 3; i < end; ++i) data[i] = 0;
  auto f = env_.OpenFile(path, OpenMode::kReadWrite);
  ASSERT_TRUE((*f)->WriteAt(0, data).ok());
  f->reset();
  ASSERT_TRUE(OpenLog().ok());
  ExpectEntries(1, 9);
  ASSERT_EQ(report_.truncations.size(), 1u);
  EXPECT_EQ(report_.truncations[0].file, path);
  EXPECT_EQ(report_.truncations[0].offset, last_start);
  EXPECT_EQ(report_.truncations[0].bytes, data.size() - last_start);
  EXPECT_NE(report_.truncations[0].reason.find("checksum"), std::string::npos)
      << report_.truncations[0].reason;
  EXPECT_NE(report_.truncations[0].reason.find("zero bytes"), std::string::npos)
      << report_.truncations[0].reason;
  EXPECT_EQ(*env_.FileSize(path), last_start);
  AppendRange(10, 12);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(12));
}

TEST_F(LogTest, DamageInPreallocatedFileIsCorruption) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(10, &files));
  std::string path = files.back();
  const std::string data = ReadFile(path);
  uint64_t end = DataEnd(path);
  ASSERT_GT(data.size(), end);
  uint64_t ninth = end - EncodedRecordSize(PayloadFor(10).size()) -
                   EncodedRecordSize(PayloadFor(9).size());
  struct Case {
    const char* what;
    uint64_t at;
    uint64_t error_offset;
  };
  for (const Case& c : {Case{"flipped bit in a record followed by a valid one",
                             ninth + kRecordHeaderSize, ninth},
                        Case{"non-zero byte in the preallocated space", end + 100, end}}) {
    SCOPED_TRACE(c.what);
    std::string bad = data;
    bad[c.at] ^= 0x20;
    auto f = env_.OpenFile(path, OpenMode::kReadWrite);
    ASSERT_TRUE((*f)->WriteAt(0, bad).ok());
    f->reset();
    Status st = OpenLog();
    ASSERT_TRUE(st.IsCorruption()) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("offset " + std::to_string(c.error_offset)), std::string::npos)
        << st.message();
    EXPECT_EQ(ReadFile(path), bad);  // nothing repaired
  }
}

TEST_F(LogTest, RolledSegmentsEndAtTheirLastRecord) {
  for (SyncPolicy policy : {SyncPolicy::kAlways, SyncPolicy::kEverySecond, SyncPolicy::kNever}) {
    SCOPED_TRACE(static_cast<int>(policy));
    std::filesystem::remove_all(dir_);
    LogOptions o;
    o.segment_bytes = 64 << 10;
    o.sync_policy = policy;
    ASSERT_TRUE(OpenLog(o).ok());
    std::string value(3000, 'v');
    for (uint64_t i = 1; i <= 100; ++i) {
      ASSERT_TRUE(log_->Append(EntryView{1, i, 0, value}).ok());
      if (i % 3 == 0) {
        ASSERT_TRUE(log_->Sync().ok());
      }
    }
    ASSERT_TRUE(log_->SyncAll().ok());
    auto files = SegmentFiles();
    ASSERT_GE(files.size(), 4u);
    for (size_t i = 0; i + 1 < files.size(); ++i) {
      std::string data = ReadFile(files[i]);
      SegmentScan scan = ScanSegment(data);
      EXPECT_EQ(scan.tail, SegmentScan::Tail::kClean) << files[i];
      EXPECT_EQ(scan.valid_end, data.size()) << files[i];
    }
    EXPECT_GT(*env_.FileSize(files.back()), DataEnd(files.back()));
    log_.reset();
  }
}

// The cut of a closed segment is made durable before the next segment is
// created: a crash right after the roll leaves the closed one exact.
TEST_F(LogTest, RollCutIsDurableBeforeNextSegmentExists) {
  LogOptions o;
  o.segment_bytes = 64 << 10;
  ASSERT_TRUE(OpenLog(o).ok());
  std::string value(30 << 10, 'v');
  ASSERT_TRUE(log_->Append(EntryView{1, 1, 0, value}).ok());
  ASSERT_TRUE(log_->Sync().ok());
  std::string first = SegmentFiles().back();
  uint64_t first_end = DataEnd(first);
  EXPECT_GT(*env_.FileSize(first), first_end);
  ASSERT_TRUE(log_->Append(EntryView{1, 2, 0, value}).ok());
  ASSERT_TRUE(log_->Append(EntryView{1, 3, 0, value}).ok());  // rolls
  // The fsync after the cut fails: the next segment must not be created.
  env_.FailSyncs(EIO);
  EXPECT_FALSE(log_->Sync().ok());
  EXPECT_EQ(SegmentFiles().size(), 1u);
  EXPECT_EQ(log_->durable_index(), 1u);
  env_.ClearFaults();
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_EQ(SegmentFiles().size(), 2u);
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  EXPECT_EQ(*env_.FileSize(first), DataEnd(first));
  EXPECT_GT(DataEnd(first), first_end);
  ASSERT_TRUE(OpenLog(o).ok());
  EXPECT_EQ(log_->last_index(), 3u);
  EXPECT_TRUE(report_.truncations.empty());
}

// A crash between creating the next segment and cutting the previous one
// (or a cut that never reached the disk) leaves zeros in a non-last segment.
TEST_F(LogTest, NonLastSegmentWithZeroTailOpens) {
  std::vector<std::string> files;
  ASSERT_NO_FATAL_FAILURE(WriteSyncedLog(100, &files, Small()));
  ASSERT_GE(files.size(), 3u);
  std::string data = ReadFile(files[1]);
  WriteFile(files[1], data + std::string(5000, '\0'));
  ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(100, Small()));
  EXPECT_EQ(ReadFile(files[1]), data);  // cut back
  AppendRange(101, 120);
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 120);
  // Anything but zeros after the last record of a non-last segment is not.
  log_.reset();
  std::string junk = data + std::string(5000, '\0');
  junk[data.size() + 4000] = 'j';
  WriteFile(files[1], junk);
  Status st = OpenLog(Small());
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find(files[1]), std::string::npos) << st.message();
  EXPECT_EQ(ReadFile(files[1]), junk);
}

TEST_F(LogTest, TruncateSuffixCutsPreallocatedTail) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 20);
  ASSERT_TRUE(log_->Sync().ok());
  std::string path = SegmentFiles().back();
  EXPECT_GT(*env_.FileSize(path), DataEnd(path));
  ASSERT_TRUE(log_->TruncateSuffix(10).ok());
  EXPECT_EQ(*env_.FileSize(path), DataEnd(path));
  std::string data = ReadFile(path);
  EXPECT_EQ(ScanSegment(data).last_index, 10u);
  AppendRange(11, 30, 2);
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_GT(*env_.FileSize(path), DataEnd(path));
  ASSERT_TRUE(OpenLog().ok());
  EXPECT_EQ(log_->last_index(), 30u);
  EXPECT_EQ(*log_->TermAt(30), 2u);
  EXPECT_TRUE(report_.truncations.empty());
}

// The zeros do not fit (ENOSPC) but the data does: the Sync succeeds and the
// log goes on appending.
TEST_F(LogTest, NoSpaceForPreallocationStillWrites) {
  for (bool short_write : {false, true}) {
    SCOPED_TRACE(short_write);
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(OpenLog().ok());
    AppendRange(1, 10);
    env_.FailWrites(ENOSPC, /*after_ok=*/3, short_write);  // create, header and data succeed
    auto r = log_->Sync();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, 10u);
    std::string path = SegmentFiles().back();
    EXPECT_TRUE(AllZeroFrom(ReadFile(path), DataEnd(path)));
    // Full disk: nothing more fits.
    AppendRange(11, 20000);
    EXPECT_TRUE(log_->Sync().status().IsNoSpace());
    EXPECT_EQ(log_->durable_index(), 10u);
    env_.ClearFaults();
    ASSERT_TRUE(log_->Sync().ok());
    EXPECT_EQ(log_->durable_index(), 20000u);
    EXPECT_GT(*env_.FileSize(path), DataEnd(path));
    log_.reset();
    ASSERT_TRUE(env_.SimulateCrash().ok());
    ASSERT_NO_FATAL_FAILURE(ExpectReopensClean(20000));
    log_.reset();
  }
}

// EIO while writing the zeros fails the Sync; nothing new is durable and
// the next Sync retries.
TEST_F(LogTest, IoErrorDuringPreallocationFailsSync) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 10);
  ASSERT_TRUE(log_->Sync().ok());
  std::string path = SegmentFiles().back();
  std::string big(kPreallocateStep, 'b');
  ASSERT_TRUE(log_->Append(EntryView{1, 11, 0, big}).ok());
  ASSERT_TRUE(log_->Append(EntryView{1, 12, 0, big}).ok());
  env_.FailWrites(EIO, /*after_ok=*/1, /*short_write=*/true);  // the data write succeeds
  EXPECT_FALSE(log_->Sync().ok());
  EXPECT_EQ(log_->durable_index(), 10u);
  env_.ClearFaults();
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_EQ(log_->durable_index(), 12u);
  EXPECT_GT(*env_.FileSize(path), DataEnd(path));
  EXPECT_TRUE(AllZeroFrom(ReadFile(path), DataEnd(path)));
  log_.reset();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  ASSERT_TRUE(OpenLog().ok());
  EXPECT_EQ(log_->last_index(), 12u);
  EXPECT_TRUE(report_.truncations.empty());
}

}  // namespace
}  // namespace tandem::wal
