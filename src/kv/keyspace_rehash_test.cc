// The keyspace while its table is in the middle of an incremental resize:
// every operation, SCAN, the iterators (KEYS, snapshots, digest), RANDOMKEY
// and DBSIZE see every key, and the move finishes and frees the old array.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "kv/keyspace.h"
#include "kv/state_machine.h"
#include "kv/testing/command_harness.h"
#include "resp/writer.h"

namespace tandem::kv {
namespace {

std::string Key(int i) { return "key:" + std::to_string(i); }

// Adds keys "key:<i>" from *next until the table has started a resize (and
// holds at least min_keys).
void FillUntilRehashing(Keyspace& ks, int* next, size_t min_keys) {
  while (ks.size() < min_keys || !ks.rehashing()) {
    ks.Set(Key(*next), Object::String("v" + std::to_string(*next)));
    ++*next;
  }
}

TEST(KeyspaceRehashTest, OperationsDuringGrowth) {
  Keyspace ks;
  int next = 0;
  FillUntilRehashing(ks, &next, 5000);
  size_t memory_while_moving = ks.MemoryUsage();

  // Lookups of every key, in either array.
  for (int i = 0; i < next; ++i) {
    const Object* o = static_cast<const Keyspace&>(ks).Find(Key(i));
    ASSERT_NE(o, nullptr) << i;
    EXPECT_EQ(o->str(), "v" + std::to_string(i));
  }
  ASSERT_TRUE(ks.rehashing());
  // Writes while moving: overwrite, expire, remove, extract, insert.
  EXPECT_TRUE(ks.SetExpire(Key(1), 5000));
  EXPECT_EQ(ks.GetExpire(Key(1)), 5000);
  ks.Set(Key(2), Object::String("new"));
  EXPECT_EQ(ks.Find(Key(2))->str(), "new");
  EXPECT_TRUE(ks.Erase(Key(3)));
  EXPECT_FALSE(ks.Erase(Key(3)));
  int64_t at = 0;
  auto extracted = ks.Extract(Key(1), &at);
  ASSERT_TRUE(extracted.has_value());
  EXPECT_EQ(at, 5000);
  EXPECT_EQ(ks.Find(Key(1)), nullptr);
  ks.Set("fresh", Object::String("f"));
  EXPECT_EQ(ks.Find("fresh")->str(), "f");
  EXPECT_EQ(ks.size(), static_cast<size_t>(next) - 2 + 1);
  ASSERT_TRUE(ks.rehashing());

  // The timer's steps finish the move; the old array goes.
  while (ks.RehashStep(100)) {
  }
  EXPECT_FALSE(ks.rehashing());
  EXPECT_LT(ks.MemoryUsage(), memory_while_moving);
  for (int i = 4; i < next; ++i) ASSERT_NE(ks.Find(Key(i)), nullptr) << i;
  EXPECT_EQ(ks.Find("fresh")->str(), "f");
}

TEST(KeyspaceRehashTest, ReadsMoveTheResizeAlong) {
  Keyspace ks;
  int next = 0;
  FillUntilRehashing(ks, &next, 5000);
  int64_t expire_at;
  int reads = 0;
  while (ks.rehashing()) {
    ASSERT_NE(ks.Access(Key(reads % next), &expire_at, -1), nullptr);
    ++reads;
    ASSERT_LT(reads, next) << "reads alone should finish the move";
  }
}

// Iterators over a keyspace frozen mid-resize see every key exactly once.
void CheckIteratorsSeeEachKeyOnce(Keyspace& ks) {
  ASSERT_TRUE(ks.rehashing());
  std::multiset<std::string> for_each, scanned;
  ks.ForEach([&](std::string_view k, const Object&, int64_t) { for_each.emplace(k); });
  uint64_t cursor = 0;
  do {
    cursor = ks.Scan(cursor, 7, [&](std::string_view k, const Object&) { scanned.emplace(k); });
  } while (cursor != 0);
  ASSERT_TRUE(ks.rehashing());
  EXPECT_EQ(for_each.size(), ks.size());
  EXPECT_EQ(scanned.size(), ks.size());
  for (const std::string& k : for_each) EXPECT_EQ(for_each.count(k), 1u) << k;
  EXPECT_EQ(scanned, for_each);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    std::string k = ks.RandomKey(rng());
    EXPECT_EQ(for_each.count(k), 1u) << k;
  }
}

TEST(KeyspaceRehashTest, IteratorsDuringGrowthAndShrink) {
  {
    Keyspace ks;
    int next = 0;
    FillUntilRehashing(ks, &next, 5000);
    CheckIteratorsSeeEachKeyOnce(ks);
  }
  {
    Keyspace ks;
    for (int i = 0; i < 40000; ++i) ks.Set(Key(i), Object::String("x"));
    while (ks.RehashStep(1000)) {
    }
    int i = 40000;
    while (!ks.rehashing()) ks.Erase(Key(--i));
    EXPECT_GT(ks.size(), 5000u);
    CheckIteratorsSeeEachKeyOnce(ks);
  }
}

// SCAN's guarantee with the keyspace resizing incrementally under it:
// randomised adds and removes between calls (fixed seeds), against a model
// of the keys present for the whole scan.
TEST(KeyspaceRehashTest, ScanGuaranteeWhileResizing) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    Keyspace ks;
    std::unordered_set<std::string> present;
    int next = 0;
    for (; next < 3000; ++next) {
      ks.Set(Key(next), Object::String("x"));
      present.insert(Key(next));
    }
    int scans_while_rehashing = 0;
    for (int scan = 0; scan < 12; ++scan) {
      // Keys present now and never removed during this scan.
      std::unordered_set<std::string> stable = present;
      std::set<std::string> seen;
      bool growing = scan % 4 < 2;
      uint64_t cursor = 0;
      do {
        if (ks.rehashing()) ++scans_while_rehashing;
        cursor = ks.Scan(cursor, 2 + rng() % 8, [&](std::string_view k, const Object&) {
          ASSERT_EQ(present.count(std::string(k)), 1u);
          seen.emplace(k);
        });
        // Fewer changes per call than buckets visited, so the scan ends.
        for (int j = static_cast<int>(rng() % 4); j > 0; --j) {
          if (growing || present.empty()) {
            ks.Set(Key(next), Object::String("x"));
            present.insert(Key(next++));
          } else {
            auto it = present.begin();
            std::advance(it, rng() % std::min<size_t>(present.size(), 16));
            EXPECT_TRUE(ks.Erase(*it));
            stable.erase(*it);
            present.erase(it);
          }
        }
      } while (cursor != 0);
      for (const std::string& k : stable) ASSERT_EQ(seen.count(k), 1u) << "scan " << scan << ": " << k;
    }
    EXPECT_GT(scans_while_rehashing, 40);
  }
}

// Snapshots (StateMachine::WriteSnapshot), KEYS, DBSIZE and the digest of a
// state machine whose keyspace is mid-resize.
std::string Exec(StateMachine& sm, std::vector<std::string_view> args) {
  std::string out;
  resp::Writer writer(&out);
  sm.Execute(args, writer, testing::CommandHarness::kStartMs, ExecMode::kLeader);
  return out;
}

TEST(KeyspaceRehashTest, SnapshotKeysAndDbsizeDuringAResize) {
  StateMachine sm;
  Keyspace& ks = sm.keyspace();
  int next = 0;
  while (ks.size() < 5000 || !ks.rehashing()) {
    std::string k = Key(next++);
    ASSERT_EQ(Exec(sm, {"SET", k, "v"}), "+OK\r\n");
  }
  ASSERT_TRUE(ks.rehashing());
  std::multiset<std::string> snapshot_entries;
  StateMachine copy;
  ASSERT_TRUE(sm.WriteSnapshot([&](std::string_view entry) {
                  snapshot_entries.emplace(entry);
                  return copy.LoadSnapshotEntry(entry);
                }).ok());
  EXPECT_EQ(snapshot_entries.size(), ks.size());
  EXPECT_EQ(copy.keyspace().size(), ks.size());
  EXPECT_EQ(copy.Digest(), sm.Digest());
  ASSERT_TRUE(ks.rehashing());
  EXPECT_EQ(Exec(sm, {"DBSIZE"}), ":" + std::to_string(next) + "\r\n");
  std::string keys = Exec(sm, {"KEYS", "*"});
  EXPECT_EQ(keys.substr(0, keys.find("\r\n")), "*" + std::to_string(next));
  for (int i = 0; i < next; i += 97) {
    EXPECT_NE(keys.find("\r\n" + Key(i) + "\r\n"), std::string::npos) << i;
  }
  std::string random = Exec(sm, {"RANDOMKEY"});
  ASSERT_EQ(random[0], '$');
  std::string picked = random.substr(random.find("\r\n") + 2);
  picked.resize(picked.size() - 2);
  EXPECT_NE(ks.Find(picked), nullptr) << random;
}

}  // namespace
}  // namespace tandem::kv
