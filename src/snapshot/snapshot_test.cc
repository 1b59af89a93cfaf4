#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "snapshot/snapshot_reader.h"
#include "snapshot/snapshot_store.h"
#include "snapshot/snapshot_writer.h"
#include "util/testing/temp_dir.h"

namespace tandem::snapshot {
namespace {

std::string EntryFor(int i) { return "key-" + std::to_string(i) + std::string(i % 50, 'v'); }

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    dir_ = root_ + "/snap";
  }

  std::string Write(uint64_t index, uint64_t term, int entries, std::string metadata = "m") {
    SnapshotMeta meta{index, term, 1'700'000'000'000, std::move(metadata)};
    auto w = SnapshotWriter::Create(&env_, dir_, meta);
    EXPECT_TRUE(w.ok());
    for (int i = 0; i < entries; ++i) EXPECT_TRUE((*w)->Add(EntryFor(i)).ok());
    auto path = (*w)->Finish();
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return path.ok() ? *path : "";
  }

  void FlipByte(const std::string& path, uint64_t offset) {
    std::string data;
    ASSERT_TRUE(env_.ReadFileToString(path, &data).ok());
    data[offset] ^= 0x20;
    auto f = env_.OpenFile(path, OpenMode::kReadWrite);
    ASSERT_TRUE((*f)->WriteAt(0, data).ok());
  }

  testing::TempDir tmp_{"tandem_snap_test"};
  std::string root_, dir_;
  FaultInjectionEnv env_{Env::Default()};
};

TEST_F(SnapshotTest, WriteThenReadBack) {
  std::string big_meta(100'000, 'M');  // longer than the reader's first fill
  std::string path = Write(500, 3, 5000, big_meta);
  EXPECT_EQ(path, JoinPath(dir_, SnapshotFileName(500, 3)));
  auto reader = SnapshotReader::Open(&env_, path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->meta().last_index, 500u);
  EXPECT_EQ((*reader)->meta().last_term, 3u);
  EXPECT_EQ((*reader)->meta().created_unix_ms, 1'700'000'000'000);
  EXPECT_EQ((*reader)->meta().metadata, big_meta);
  int n = 0;
  for (;;) {
    std::string_view entry;
    bool done = false;
    ASSERT_TRUE((*reader)->Next(&entry, &done).ok());
    if (done) break;
    ASSERT_EQ(entry, EntryFor(n));
    ++n;
  }
  EXPECT_EQ(n, 5000);
  EXPECT_EQ((*reader)->offset(), *env_.FileSize(path));
}

TEST_F(SnapshotTest, EmptySnapshotIsValid) {
  std::string path = Write(0, 0, 0, "");
  EXPECT_TRUE(VerifySnapshotFile(&env_, path).ok());
}

TEST_F(SnapshotTest, EveryCorruptByteIsDetected) {
  std::string path = Write(10, 1, 3);
  std::string data;
  ASSERT_TRUE(env_.ReadFileToString(path, &data).ok());
  for (size_t i = 0; i < data.size(); ++i) {
    std::string bad = data;
    bad[i] ^= 0x01;
    auto f = env_.OpenFile(path, OpenMode::kCreateTruncate);
    ASSERT_TRUE((*f)->WriteAt(0, bad).ok());
    f->reset();
    Status st = VerifySnapshotFile(&env_, path);
    EXPECT_TRUE(st.IsCorruption()) << "byte " << i << ": " << st.ToString();
  }
  // Truncated and extended files too.
  for (size_t len : {size_t{0}, size_t{10}, data.size() - 1}) {
    auto f = env_.OpenFile(path, OpenMode::kCreateTruncate);
    ASSERT_TRUE((*f)->WriteAt(0, std::string_view(data).substr(0, len)).ok());
    f->reset();
    EXPECT_TRUE(VerifySnapshotFile(&env_, path).IsCorruption()) << len;
  }
  auto f = env_.OpenFile(path, OpenMode::kCreateTruncate);
  ASSERT_TRUE((*f)->WriteAt(0, data + "x").ok());
  f->reset();
  Status st = VerifySnapshotFile(&env_, path);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find(path), std::string::npos);
}

TEST_F(SnapshotTest, CrashDuringSnapshotLeavesTmpWhichIsIgnoredAndDeleted) {
  std::string good = Write(100, 2, 10);
  std::string tmp = JoinPath(dir_, SnapshotFileName(200, 2) + ".tmp");
  {
    auto w = SnapshotWriter::Create(&env_, dir_, SnapshotMeta{200, 2, 0, ""});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*w)->Add(EntryFor(i)).ok());
  }
  // The fork child was killed mid-write: a partial .tmp stays behind.
  auto partial = env_.OpenFile(tmp, OpenMode::kCreateTruncate);
  ASSERT_TRUE((*partial)->Append("TNDMSNP1 partial").ok());
  partial->reset();
  ASSERT_TRUE(env_.FileExists(JoinPath(dir_, SnapshotFileName(200, 2) + ".tmp")));
  SnapshotScanReport report;
  auto latest = FindLatestSnapshot(&env_, dir_, 90, &report);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->path, good);
  EXPECT_EQ((*latest)->meta.last_index, 100u);
  ASSERT_EQ(report.removed_tmp.size(), 1u);
  EXPECT_FALSE(env_.FileExists(report.removed_tmp[0]));
}

TEST_F(SnapshotTest, CrashBeforeFsyncLosesOnlyTheNewSnapshot) {
  std::string good = Write(100, 2, 10);
  auto w = SnapshotWriter::Create(&env_, dir_, SnapshotMeta{200, 2, 0, ""});
  ASSERT_TRUE((*w)->Add("x").ok());
  env_.FailSyncs(EIO);
  EXPECT_FALSE((*w)->Finish().ok());
  w->reset();
  env_.ClearFaults();
  ASSERT_TRUE(env_.SimulateCrash().ok());
  auto latest = FindLatestSnapshot(&env_, dir_, 1, nullptr);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->path, good);
}

TEST_F(SnapshotTest, AbandonedWriterDeletesTmp) {
  {
    auto w = SnapshotWriter::Create(&env_, dir_, SnapshotMeta{5, 1, 0, ""});
    ASSERT_TRUE((*w)->Add("x").ok());
  }
  auto names = env_.ListDir(dir_);
  EXPECT_TRUE(names->empty());
}

TEST_F(SnapshotTest, CorruptNewestFallsBackWhenLogStillJoins) {
  std::string older = Write(100, 1, 10);
  std::string newer = Write(200, 2, 10);
  FlipByte(newer, 60);
  SnapshotScanReport report;
  auto latest = FindLatestSnapshot(&env_, dir_, /*log_first_index=*/101, &report);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ((*latest)->path, older);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find(newer), std::string::npos);
}

TEST_F(SnapshotTest, CorruptNewestIsErrorWhenLogCompactedPastOlder) {
  Write(100, 1, 10);
  std::string newer = Write(200, 2, 10);
  FlipByte(newer, 70);
  auto latest = FindLatestSnapshot(&env_, dir_, /*log_first_index=*/150, nullptr);
  ASSERT_TRUE(latest.status().IsCorruption()) << latest.status().ToString();
  EXPECT_NE(latest.status().message().find("log starts at 150"), std::string::npos);
}

// LoadLatestSnapshot reads each file once: the entries a corrupt file
// handed out before its corruption showed must be discarded, and every
// corrupt byte of a loaded file must still be detected.
TEST_F(SnapshotTest, LoadLatestHandsOutOnlyAVerifiedFile) {
  std::string older = Write(100, 1, 10);
  std::string newer = Write(200, 2, 300);
  std::string good;
  ASSERT_TRUE(env_.ReadFileToString(newer, &good).ok());
  std::vector<std::string> loaded;
  int discards = 0;
  auto load = [&](std::string_view e) {
    loaded.emplace_back(e);
    return Status::Ok();
  };
  auto discard = [&] {
    loaded.clear();
    ++discards;
  };
  // Unharmed: the newest, all its entries in order, no discard.
  auto latest = LoadLatestSnapshot(&env_, dir_, 101, nullptr, load, discard);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ((*latest)->path, newer);
  ASSERT_EQ(loaded.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(loaded[i], EntryFor(i));
  EXPECT_EQ(discards, 0);
  // Any flipped byte of the newest: its entries are discarded and the older
  // one is loaded instead, with a warning naming the newest.
  for (size_t i = 0; i < good.size(); i += 97) {
    std::string bad = good;
    bad[i] ^= 0x01;
    auto f = env_.OpenFile(newer, OpenMode::kCreateTruncate);
    ASSERT_TRUE((*f)->WriteAt(0, bad).ok());
    f->reset();
    loaded.clear();
    discards = 0;
    SnapshotScanReport report;
    latest = LoadLatestSnapshot(&env_, dir_, 101, &report, load, discard);
    ASSERT_TRUE(latest.ok()) << "byte " << i << ": " << latest.status().ToString();
    EXPECT_EQ((*latest)->path, older) << "byte " << i;
    ASSERT_EQ(loaded.size(), 10u) << "byte " << i;
    EXPECT_EQ(loaded[0], EntryFor(0));
    EXPECT_EQ(discards, 1);
    ASSERT_EQ(report.warnings.size(), 1u);
    EXPECT_NE(report.warnings[0].find(newer), std::string::npos);
  }
  // The byte before the trailer's checksum: every entry verified, so all
  // of them were loaded before the whole-file checksum failed.
  {
    std::string bad = good;
    bad[bad.size() - 9] ^= 0x01;
    auto f = env_.OpenFile(newer, OpenMode::kCreateTruncate);
    ASSERT_TRUE((*f)->WriteAt(0, bad).ok());
    f->reset();
    loaded.clear();
    discards = 0;
    latest = LoadLatestSnapshot(&env_, dir_, 101, nullptr, load, discard);
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ((*latest)->path, older);
    EXPECT_EQ(discards, 1);
    EXPECT_EQ(loaded.size(), 10u);
  }
  // A loader error is returned as is (no fallback), naming file and entry.
  auto f = env_.OpenFile(newer, OpenMode::kCreateTruncate);
  ASSERT_TRUE((*f)->WriteAt(0, good).ok());
  f->reset();
  latest = LoadLatestSnapshot(
      &env_, dir_, 101, nullptr,
      [&](std::string_view e) {
        return e == EntryFor(7) ? Status::Corruption("no good") : Status::Ok();
      },
      discard);
  ASSERT_TRUE(latest.status().IsCorruption());
  EXPECT_NE(latest.status().message().find(newer), std::string::npos);
  EXPECT_NE(latest.status().message().find("entry 8: no good"), std::string::npos);
  // Neither can reach the log: Corruption, nothing loaded.
  loaded.clear();
  latest = LoadLatestSnapshot(&env_, dir_, 300, nullptr, load, discard);
  ASSERT_TRUE(latest.status().IsCorruption());
  EXPECT_TRUE(loaded.empty());
}

TEST_F(SnapshotTest, NoSnapshotCases) {
  auto none = FindLatestSnapshot(&env_, dir_, 1, nullptr);  // dir missing
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(FindLatestSnapshot(&env_, dir_, 5, nullptr).status().IsCorruption());
  std::string only = Write(10, 1, 1);
  FlipByte(only, 5);
  SnapshotScanReport report;
  auto r = FindLatestSnapshot(&env_, dir_, 1, &report);
  ASSERT_TRUE(r.ok());  // the whole log is still there
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(report.warnings.size(), 1u);
}

TEST_F(SnapshotTest, PruneKeepsNewest) {
  Write(10, 1, 1);
  Write(20, 1, 1);
  Write(30, 2, 1);  // Finish prunes to 2
  auto list = ListSnapshots(&env_, dir_);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].meta.last_index, 30u);
  EXPECT_EQ((*list)[1].meta.last_index, 20u);
  ASSERT_TRUE(PruneSnapshots(&env_, dir_, 1).ok());
  EXPECT_EQ(ListSnapshots(&env_, dir_)->size(), 1u);
  EXPECT_FALSE(PruneSnapshots(&env_, dir_, 0).ok());
}

TEST_F(SnapshotTest, FileNames) {
  uint64_t i, t;
  ASSERT_TRUE(ParseSnapshotFileName(SnapshotFileName(12, 34), &i, &t));
  EXPECT_EQ(i, 12u);
  EXPECT_EQ(t, 34u);
  EXPECT_FALSE(ParseSnapshotFileName(SnapshotFileName(12, 34) + ".tmp", &i, &t));
  EXPECT_FALSE(ParseSnapshotFileName("snapshot-x.snap", &i, &t));
}

}  // namespace
}  // namespace tandem::snapshot
