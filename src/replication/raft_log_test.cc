#include "replication/raft_log.h"

#include <gtest/gtest.h>

namespace tandem::replication {
namespace {

RaftLog MakeLog(std::initializer_list<Term> terms, Index snapshot_index = 0, Term snap_term = 0) {
  RaftLog log;
  log.Reset(snapshot_index, snap_term);
  Index i = snapshot_index;
  for (Term t : terms) log.Append(Entry{t, ++i, EntryType::kNormal, nullptr});
  return log;
}

TEST(RaftLogTest, TermAtCoversSnapshotAndEntriesOnly) {
  RaftLog log = MakeLog({2, 2, 3}, 5, 1);
  EXPECT_EQ(log.first_index(), 6u);
  EXPECT_EQ(log.last_index(), 8u);
  EXPECT_EQ(log.TermAt(5), 1u);
  EXPECT_EQ(log.TermAt(8), 3u);
  EXPECT_FALSE(log.TermAt(4).has_value());
  EXPECT_FALSE(log.TermAt(9).has_value());
}

TEST(RaftLogTest, TruncateAndCompact) {
  RaftLog log = MakeLog({1, 1, 2, 2, 3});
  log.TruncateAfter(3);
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.last_term(), 2u);
  log.CompactTo(2, 1);
  EXPECT_EQ(log.first_index(), 3u);
  EXPECT_EQ(log.At(3).term, 2u);
  log.CompactTo(10, 7);  // beyond the end: empty log after the snapshot
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(log.last_index(), 10u);
  EXPECT_EQ(log.last_term(), 7u);
}

TEST(RaftLogTest, LargeCompactionIsFreedInSlices) {
  RaftLog log;
  auto payload = std::make_shared<const std::string>("v");
  for (Index i = 1; i <= 20000; ++i) log.Append(Entry{1, i, EntryType::kNormal, payload});
  log.CompactTo(15000, 1);
  EXPECT_EQ(log.first_index(), 15001u);
  EXPECT_EQ(log.last_index(), 20000u);
  EXPECT_EQ(log.At(15001).index, 15001u);
  EXPECT_EQ(log.At(20000).index, 20000u);
  EXPECT_EQ(log.compacted_pending(), 20000u) << "the old storage waits to be freed";
  EXPECT_GT(payload.use_count(), 20000) << "dropped entries are not freed yet";
  EXPECT_EQ(log.ReleaseCompacted(12000), 12000u);
  EXPECT_EQ(log.ReleaseCompacted(12000), 8000u);
  EXPECT_EQ(log.ReleaseCompacted(12000), 0u);
  EXPECT_EQ(payload.use_count(), 1 + 5000) << "only the kept entries hold the payload";
  // Appending and reading still work after the compaction.
  log.Append(Entry{2, 20001, EntryType::kNormal, nullptr});
  EXPECT_EQ(log.TermAt(20001), 2u);
  log.Reset(30000, 3);
  EXPECT_EQ(log.compacted_pending(), 5001u);
  EXPECT_EQ(log.ReleaseCompacted(100000), 5001u);
  EXPECT_EQ(payload.use_count(), 1);
}

TEST(RaftLogTest, SliceHonoursCountAndByteLimitsButReturnsOneEntry) {
  RaftLog log;
  for (Index i = 1; i <= 10; ++i) {
    log.Append(Entry{1, i, EntryType::kNormal, std::make_shared<const std::string>(100, 'x')});
  }
  std::vector<Entry> out;
  log.Slice(2, 10, 3, 1 << 20, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.front().index, 2u);
  out.clear();
  log.Slice(1, 10, 100, 300, &out);  // 124 bytes each
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  log.Slice(1, 10, 100, 1, &out);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  log.Slice(11, 10, 100, 1, &out);
  EXPECT_TRUE(out.empty());
}

TEST(RaftLogTest, FindConflictHintSkipsHigherTerms) {
  RaftLog log = MakeLog({1, 1, 4, 4, 5, 5}, 0, 0);
  EXPECT_EQ(log.FindConflictHint(6, 3), 2u);
  EXPECT_EQ(log.FindConflictHint(6, 4), 4u);
  EXPECT_EQ(log.FindConflictHint(100, 9), 6u);
  EXPECT_EQ(log.FindConflictHint(6, 0), 0u);
}

}  // namespace
}  // namespace tandem::replication
