#include "snapshot/async_snapshot_writer.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "snapshot/snapshot_store.h"
#include "util/testing/temp_dir.h"

namespace tandem::snapshot {
namespace {

std::string EntryFor(int i) { return "entry-" + std::to_string(i) + std::string(i % 300, 'v'); }

class AsyncSnapshotWriterTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<AsyncSnapshotWriter>> Start(
      const std::string& dir, size_t queue_limit = AsyncSnapshotWriter::kQueueLimitBytes) {
    return AsyncSnapshotWriter::Start(
        &env_, dir, meta_, /*keep=*/2,
        [this] {
          std::lock_guard<std::mutex> lock(mu_);
          ++events_;
          cv_.notify_all();
        },
        queue_limit);
  }
  // Waits (without a fixed sleep) until the writer reports done().
  void WaitDone(AsyncSnapshotWriter& w) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [&] { return w.done(); }));
  }
  void ExpectNoFileIn(const std::string& dir) {
    auto names = env_.ListDir(dir);
    ASSERT_TRUE(names.ok());
    EXPECT_TRUE(names->empty());
  }
  static void AddFramed(AsyncSnapshotWriter& w, std::string_view entry) {
    size_t header = StartFramedEntry(&w.batch());
    w.batch().append(entry);
    ASSERT_TRUE(EndFramedEntry(&w.batch(), header).ok());
  }

  testing::TempDir tmp_{"tandem_async_snap_test"};
  FaultInjectionEnv env_{Env::Default()};
  SnapshotMeta meta_{42, 7, 1'700'000'000'000, "membership"};
  std::mutex mu_;
  std::condition_variable cv_;
  int events_ = 0;
};

TEST_F(AsyncSnapshotWriterTest, WritesTheBytesTheSynchronousWriterWrites) {
  std::string sync_dir = tmp_.path() + "/sync", async_dir = tmp_.path() + "/async";
  auto sync = SnapshotWriter::Create(&env_, sync_dir, meta_);
  ASSERT_TRUE(sync.ok());
  auto w = Start(async_dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE((*sync)->Add(EntryFor(i)).ok());
    AddFramed(**w, EntryFor(i));
    if (i % 777 == 0) (*w)->Submit();  // batches of every size, and empty ones
    if (i % 1000 == 0) (*w)->Submit();
  }
  auto sync_path = (*sync)->Finish();
  ASSERT_TRUE(sync_path.ok());
  (*w)->Finish();
  WaitDone(**w);
  auto path = (*w)->result();
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, JoinPath(async_dir, SnapshotFileName(42, 7)));
  std::string a, b;
  ASSERT_TRUE(env_.ReadFileToString(*sync_path, &a).ok());
  ASSERT_TRUE(env_.ReadFileToString(*path, &b).ok());
  EXPECT_GT(a.size(), 3'000'000u);
  EXPECT_TRUE(a == b) << "sizes " << a.size() << " and " << b.size();
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_GE(events_, 1);  // done was announced
}

TEST_F(AsyncSnapshotWriterTest, AWriteErrorIsReportedAndLeavesNoFile) {
  std::string dir = tmp_.path() + "/snap";
  auto w = Start(dir);
  ASSERT_TRUE(w.ok());
  env_.FailWrites(ENOSPC);
  for (int i = 0; i < 100; ++i) AddFramed(**w, EntryFor(i));
  (*w)->Finish();
  WaitDone(**w);
  auto path = (*w)->result();
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.status().ToString().find("space"), std::string::npos)
      << path.status().ToString();
  env_.ClearFaults();
  ExpectNoFileIn(dir);
}

TEST_F(AsyncSnapshotWriterTest, AFullQueueWakesTheProducerOnceItHasDrainedToHalf) {
  std::string dir = tmp_.path() + "/snap";
  constexpr size_t kLimit = 256 << 10;
  auto w = Start(dir, kLimit);
  ASSERT_TRUE(w.ok());
  // Hold the thread in its first write so the queue fills.
  env_.HoldWrites(true);
  int entries = 0;
  bool full = false;
  while (!full) {
    for (int i = 0; i < 64; ++i, ++entries) AddFramed(**w, EntryFor(entries));
    (*w)->Submit();
    full = (*w)->Full();
    ASSERT_LT(entries, 100000) << "the queue never filled";
  }
  int events_when_full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_when_full = events_;
  }
  env_.HoldWrites(false);
  {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60),
                             [&] { return events_ > events_when_full; }));
  }
  EXPECT_FALSE((*w)->Full());
  (*w)->Finish();
  WaitDone(**w);
  ASSERT_TRUE((*w)->result().ok());
}

TEST_F(AsyncSnapshotWriterTest, AbandonedWhileWritingStopsAndDeletesTheFile) {
  std::string dir = tmp_.path() + "/snap";
  auto w = Start(dir);
  ASSERT_TRUE(w.ok());
  env_.HoldWrites(true);
  for (int i = 0; i < 1000; ++i) AddFramed(**w, EntryFor(i));
  (*w)->Submit();
  for (int i = 0; i < 1000; ++i) AddFramed(**w, EntryFor(i));
  (*w)->Finish();
  while (env_.held_writes() == 0) std::this_thread::yield();  // the thread is in a write
  (*w)->Abandon();  // returns at once although the thread is held
  EXPECT_FALSE((*w)->done());
  env_.HoldWrites(false);
  WaitDone(**w);
  EXPECT_FALSE((*w)->result().ok());
  ExpectNoFileIn(dir);
}

TEST_F(AsyncSnapshotWriterTest, AbandoningDeletesTheUnfinishedFile) {
  std::string dir = tmp_.path() + "/snap";
  {
    auto w = Start(dir);
    ASSERT_TRUE(w.ok());
    AddFramed(**w, "x");
    (*w)->Submit();
    EXPECT_FALSE((*w)->result().ok());  // not done
  }
  ExpectNoFileIn(dir);
}

TEST(FramedEntriesTest, LengthsThatDoNotWalkTheBufferAreCorruption) {
  std::string buf;
  size_t header = StartFramedEntry(&buf);
  buf.append("hello");
  ASSERT_TRUE(EndFramedEntry(&buf, header).ok());
  std::string expected;
  AppendSnapshotEntry("hello", &expected);
  uint64_t count = 0;
  std::string whole = buf;
  ASSERT_TRUE(ChecksumFramedEntries(&whole, &count).ok());
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(whole, expected);
  std::string cut = buf.substr(0, buf.size() - 1);
  EXPECT_TRUE(ChecksumFramedEntries(&cut, &count).IsCorruption());
  std::string short_header = buf.substr(0, 5);
  EXPECT_TRUE(ChecksumFramedEntries(&short_header, &count).IsCorruption());
}

}  // namespace
}  // namespace tandem::snapshot
