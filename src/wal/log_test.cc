#include "wal/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace tandem::wal {
namespace {

std::string PayloadFor(uint64_t index) {
  return "value-" + std::to_string(index) + std::string(index % 7, 'x');
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem_wal_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/wal";
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(root_);
  }

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

  std::string root_, dir_;
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
  ASSERT_TRUE(OpenLog().ok());
  ExpectEntries(1, 100);
  EXPECT_TRUE(report_.truncations.empty());
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
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 5);
  ASSERT_TRUE(log_->Sync().ok());
  log_.reset();
  std::string path = SegmentFiles().back();
  std::string full;
  ASSERT_TRUE(env_.ReadFileToString(path, &full).ok());
  size_t last_start = full.size() - EncodedRecordSize(PayloadFor(5).size());
  for (size_t len = last_start + 1; len < full.size(); ++len) {
    SCOPED_TRACE(len);
    ASSERT_TRUE(env_.TruncateFile(path, 0).ok());
    auto f = env_.OpenFile(path, OpenMode::kReadWrite);
    ASSERT_TRUE((*f)->WriteAt(0, std::string_view(full).substr(0, len)).ok());
    f->reset();
    ASSERT_TRUE(OpenLog().ok());
    ExpectEntries(1, 4);
    ASSERT_EQ(report_.truncations.size(), 1u);
    EXPECT_EQ(report_.truncations[0].file, path);
    EXPECT_EQ(report_.truncations[0].offset, last_start);
    EXPECT_EQ(report_.truncations[0].bytes, len - last_start);
    EXPECT_EQ(*env_.FileSize(path), last_start);
    // The log continues cleanly after the cut.
    AppendRange(5, 5);
    ASSERT_TRUE(log_->Sync().ok());
    log_.reset();
  }
}

TEST_F(LogTest, FlippedBitInMiddleIsCorruptionNamingFileAndOffset) {
  ASSERT_TRUE(OpenLog().ok());
  AppendRange(1, 10);
  ASSERT_TRUE(log_->Sync().ok());
  log_.reset();
  std::string path = SegmentFiles().back();
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
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 100);
  ASSERT_TRUE(log_->Sync().ok());
  log_.reset();
  auto files = SegmentFiles();
  ASSERT_GE(files.size(), 3u);
  uint64_t size = *env_.FileSize(files[1]);
  ASSERT_TRUE(env_.TruncateFile(files[1], size - 3).ok());
  Status st = OpenLog(Small());
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find(files[1]), std::string::npos);
}

TEST_F(LogTest, MissingMiddleSegmentIsCorruption) {
  ASSERT_TRUE(OpenLog(Small()).ok());
  AppendRange(1, 100);
  ASSERT_TRUE(log_->Sync().ok());
  log_.reset();
  auto files = SegmentFiles();
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
  ExpectEntries(1, 40);
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
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, 70);
  EXPECT_TRUE(report_.truncations.empty());
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
  uint64_t seed = 12345;
  auto next = [&seed]() {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  ASSERT_TRUE(OpenLog(Small()).ok());
  uint64_t acked = 0;
  for (int round = 0; round < 200; ++round) {
    uint64_t n = 1 + next() % 8;
    AppendRange(log_->last_index() + 1, log_->last_index() + n);
    switch (next() % 6) {
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
    auto r = log_->Sync();
    if (r.ok()) {
      EXPECT_GE(*r, acked);
      acked = *r;
    }
    if (next() % 25 == 0) {
      env_.ClearFaults();
      log_.reset();
      ASSERT_TRUE(env_.SimulateCrash().ok());
      ASSERT_TRUE(OpenLog(Small()).ok()) << "round " << round;
      ASSERT_GE(log_->last_index(), acked);
      ExpectEntries(1, log_->last_index());
      acked = log_->last_index();
    }
  }
  env_.ClearFaults();
  ASSERT_TRUE(log_->Sync().ok());
  uint64_t last = log_->last_index();
  ASSERT_TRUE(OpenLog(Small()).ok());
  ExpectEntries(1, last);
}

}  // namespace
}  // namespace tandem::wal
