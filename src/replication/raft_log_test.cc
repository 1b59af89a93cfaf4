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

TEST(RaftLogTest, EvictedEntriesAreReadBackThroughTheLoader) {
  // "Storage": entries 1..10, terms 1,1,1,2,2,2,3,3,3,3, payload "e<i>".
  std::vector<Entry> disk;
  for (Index i = 1; i <= 10; ++i) {
    Term t = i <= 3 ? 1 : i <= 6 ? 2 : 3;
    disk.push_back(Entry{t, i, EntryType::kNormal,
                         std::make_shared<const std::string>("e" + std::to_string(i))});
  }
  RaftLog log;
  for (const Entry& e : disk) log.Append(e);
  int loads = 0;
  log.set_loader([&](Index from, Index to, size_t max_bytes, std::vector<Entry>* out) {
    ++loads;
    size_t bytes = 0;
    for (Index i = from; i <= to && bytes < max_bytes; ++i) {
      out->push_back(disk[i - 1]);
      bytes += out->back().ByteSize();
    }
    return Status::Ok();
  });
  log.EvictOldest(0, /*limit=*/5);
  EXPECT_EQ(log.resident_first(), 6u) << "never above the limit";
  log.EvictOldest(log.resident_bytes() - 1, /*limit=*/10);
  EXPECT_EQ(log.resident_first(), 7u) << "only down to the byte target";
  log.EvictUpTo(7);
  EXPECT_EQ(log.resident_first(), 8u);
  EXPECT_EQ(log.TermAt(2), 1u);
  EXPECT_EQ(log.TermAt(5), 2u);
  EXPECT_EQ(log.TermAt(10), 3u);
  EXPECT_EQ(log.FindConflictHint(10, 2), 6u);
  EXPECT_EQ(log.FindConflictHint(5, 1), 3u);
  EXPECT_EQ(log.FindConflictHint(10, 0), 0u);
  auto e3 = log.Get(3);
  ASSERT_TRUE(e3.ok());
  EXPECT_EQ(e3->data(), "e3");
  EXPECT_EQ(loads, 1);
  std::vector<Entry> out;
  ASSERT_TRUE(log.Slice(6, 9, 100, 1 << 20, &out).ok());
  ASSERT_EQ(out.size(), 4u) << "loaded 6..7, then resident 8..9";
  for (size_t k = 0; k < out.size(); ++k) EXPECT_EQ(out[k].index, 6 + k);
  EXPECT_EQ(out[1].data(), "e7");
  EXPECT_EQ(out[3].data(), "e9");
  out.clear();
  ASSERT_TRUE(log.Slice(2, 10, 3, 1 << 20, &out).ok());
  EXPECT_EQ(out.size(), 3u) << "the entry limit applies to loaded entries too";
  // Compaction inside the evicted prefix keeps terms and resident entries.
  log.CompactTo(4, 2);
  EXPECT_EQ(log.first_index(), 5u);
  EXPECT_EQ(log.TermAt(4), 2u);
  EXPECT_EQ(log.TermAt(5), 2u);
  EXPECT_FALSE(log.TermAt(3).has_value());
  EXPECT_EQ(log.FindConflictHint(10, 1), 4u) << "answer in the compacted prefix";
  // Truncation and appends keep the runs right.
  log.TruncateAfter(8);
  EXPECT_EQ(log.last_index(), 8u);
  EXPECT_EQ(log.last_term(), 3u);
  log.Append(Entry{5, 9, EntryType::kNormal, nullptr});
  EXPECT_EQ(log.TermAt(9), 5u);
  EXPECT_EQ(log.TermAt(8), 3u);
  // Without a loader nothing is evicted.
  RaftLog plain;
  for (const Entry& e : disk) plain.Append(e);
  plain.EvictUpTo(10);
  plain.EvictOldest(0, 10);
  EXPECT_EQ(plain.resident_first(), 1u);
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
