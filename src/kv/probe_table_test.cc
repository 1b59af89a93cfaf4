// ProbeTable on its own, with incremental resizing from the smallest size
// (kIncrementalFrom = 8) so every growth and shrink goes through the
// two-array state, against std::unordered_set models with fixed seeds.
#include "kv/probe_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "util/checksum.h"

namespace tandem::kv {
namespace {

uint32_t TestHash(std::string_view key) {
  return static_cast<uint32_t>(Checksum64(key, 0x5eed));
}

struct TestEntry {
  std::string key;
  uint32_t hash;
};

struct TestTraits {
  static std::string_view Key(const TestEntry* e) { return e->key; }
  static uint32_t Hash(const TestEntry* e) { return e->hash; }
};

template <size_t kIncrementalFrom>
class Harness {
 public:
  using Table = ProbeTable<TestEntry, TestTraits, kIncrementalFrom>;

  ~Harness() {
    table.ForEach([](TestEntry* e) { delete e; });
  }

  static uint32_t Hash(std::string_view key) { return TestHash(key); }

  TestEntry* Find(const std::string& key) const { return table.Find(key, Hash(key)); }
  void Insert(const std::string& key) {
    ASSERT_EQ(Find(key), nullptr) << key;
    table.Insert(new TestEntry{key, Hash(key)});
    model.insert(key);
  }
  bool Remove(const std::string& key) {
    TestEntry* e = table.Remove(key, Hash(key));
    if (e == nullptr) return false;
    EXPECT_EQ(e->key, key);
    delete e;
    EXPECT_EQ(model.erase(key), 1u);
    return true;
  }

  // Every key found, the size right, and ForEach reports each exactly once.
  void CheckAgainstModel() const {
    ASSERT_EQ(table.size(), model.size());
    for (const std::string& k : model) ASSERT_NE(Find(k), nullptr) << k;
    std::multiset<std::string> seen;
    table.ForEach([&](const TestEntry* e) { seen.insert(e->key); });
    ASSERT_EQ(seen.size(), model.size());
    for (const std::string& k : model) ASSERT_EQ(seen.count(k), 1u) << k;
  }

  Table table;
  std::unordered_set<std::string> model;
};

std::string Key(uint64_t i) { return "k" + std::to_string(i); }

TEST(ProbeTableTest, GrowsIncrementallyAndFreesTheOldArray) {
  Harness<8> h;
  int saw_rehash = 0;
  for (int i = 0; i < 5000; ++i) {
    h.Insert(Key(i));
    if (h.table.rehashing()) {
      ++saw_rehash;
      // Both arrays while moving; the old one is half the new one.
      EXPECT_EQ(h.table.memory_usage(), h.table.capacity() * 8 * 3 / 2);
    } else {
      EXPECT_EQ(h.table.memory_usage(), h.table.capacity() * 8);
    }
    EXPECT_LE(h.table.size() * 8, h.table.capacity() * 7);
  }
  EXPECT_GT(saw_rehash, 100);
  h.CheckAgainstModel();
  while (h.table.RehashStep(1)) {
  }
  EXPECT_FALSE(h.table.rehashing());
  EXPECT_EQ(h.table.memory_usage(), h.table.capacity() * 8);
  h.CheckAgainstModel();
}

TEST(ProbeTableTest, EachOperationMovesOnlyAFewEntries) {
  // With the default threshold, a 4096-slot table growing to 8192 must not
  // finish its move within one insert: the work is spread out.
  Harness<4096> h;
  int i = 0;
  while (!h.table.rehashing()) h.Insert(Key(i++));
  EXPECT_EQ(h.table.capacity(), 8192u);
  int ops_while_rehashing = 0;
  while (h.table.rehashing()) {
    h.Insert(Key(i++));
    ++ops_while_rehashing;
  }
  // 3585 entries to move at >= 8 per insert: at most ~450 inserts, and
  // more than a few (runs at load 7/8 average ~7 entries).
  EXPECT_GT(ops_while_rehashing, 50);
  EXPECT_LE(ops_while_rehashing, 450);
  EXPECT_EQ(h.table.capacity(), 8192u) << "finished before the next growth";
  h.CheckAgainstModel();
}

TEST(ProbeTableTest, RandomOperationsDuringResizesAgainstModel) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE(seed);
    Harness<8> h;
    std::mt19937_64 rng(seed);
    int ops_while_rehashing = 0;
    // Phases alternate between mostly inserting and mostly removing, so
    // the table grows and shrinks many times.
    for (int phase = 0; phase < 8; ++phase) {
      bool growing = phase % 2 == 0;
      for (int step = 0; step < 6000; ++step) {
        uint64_t r = rng();
        std::string k = Key(rng() % 20000);
        switch (r % 10) {
          case 0:
          case 1:
          case 2:
          case 3:
            if (growing) {
              if (h.Find(k) == nullptr) h.Insert(k);
            } else {
              h.Remove(k);
            }
            break;
          case 4:
            if (growing) {
              h.Remove(k);
            } else if (h.Find(k) == nullptr) {
              h.Insert(k);
            }
            break;
          case 5:
            h.table.RehashStep(r % 5);
            break;
          default: {
            TestEntry* e = h.Find(k);
            EXPECT_EQ(e != nullptr, h.model.count(k) == 1) << k;
            if (e != nullptr) {
              EXPECT_EQ(e->key, k);
            }
            // Removing what is absent changes nothing.
            if (e == nullptr) {
              EXPECT_FALSE(h.Remove(k));
            }
          }
        }
        if (h.table.rehashing()) ++ops_while_rehashing;
        if (step % (h.table.rehashing() ? 50 : 500) == 0) h.CheckAgainstModel();
      }
      // Remove phases empty most of the table.
      if (!growing) {
        while (h.model.size() > 50) h.Remove(*h.model.begin());
      }
      h.CheckAgainstModel();
    }
    EXPECT_GT(ops_while_rehashing, 1000);
  }
}

TEST(ProbeTableTest, RandomEntryDuringAResizeComesFromBothArrays) {
  Harness<8> h;
  int i = 0;
  while (h.table.size() < 3000 || !h.table.rehashing()) h.Insert(Key(i++));
  ASSERT_TRUE(h.table.rehashing());
  std::set<std::string> picked;
  std::mt19937_64 rng(7);
  for (int j = 0; j < 5000; ++j) {
    TestEntry* e = h.table.RandomEntry(rng());
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(h.model.count(e->key), 1u);
    picked.insert(e->key);
  }
  EXPECT_GT(picked.size(), 1000u);
}

// Scans with keys added and removed between calls so the table grows and
// shrinks, calls land in the middle of resizes, and some resizes start and
// finish within a scan. Keys present for the whole scan must be returned.
void ScanUnderChurn(uint64_t seed, bool grow_first) {
  SCOPED_TRACE(seed);
  Harness<8> h;
  std::mt19937_64 rng(seed);
  const int kStable = 300;
  for (int i = 0; i < kStable; ++i) h.Insert("stable" + std::to_string(i));
  uint64_t next_churn = 0;
  std::vector<std::string> churn;
  if (!grow_first) {
    for (int i = 0; i < 6000; ++i) {
      churn.push_back(Key(next_churn++));
      h.Insert(churn.back());
    }
  }
  int calls_while_rehashing = 0;
  int total_rounds = 0;
  for (int scan = 0; scan < 20; ++scan) {
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int rounds = 0;
    do {
      if (h.table.rehashing()) ++calls_while_rehashing;
      cursor = h.table.Scan(cursor, 2 + rng() % 4, [&](const TestEntry* e) {
        ASSERT_EQ(h.model.count(e->key), 1u);
        seen.insert(e->key);
      });
      // Grow for a while, then shrink, flipping every few scans. Fewer
      // changes per call than buckets visited, so a growing scan ends.
      bool growing = ((scan / 3) % 2 == 0) == grow_first;
      int changes = static_cast<int>(rng() % 4);
      for (int j = 0; j < changes; ++j) {
        if (growing || churn.empty()) {
          churn.push_back(Key(next_churn++));
          h.Insert(churn.back());
        } else {
          size_t victim = rng() % churn.size();
          std::swap(churn[victim], churn.back());
          h.Remove(churn.back());
          churn.pop_back();
        }
      }
      if (rng() % 8 == 0) h.table.RehashStep(rng() % 64);
      ++rounds;
    } while (cursor != 0 && rounds < 1000000);
    ASSERT_EQ(cursor, 0u);
    total_rounds += rounds;
    for (int i = 0; i < kStable; ++i) {
      ASSERT_EQ(seen.count("stable" + std::to_string(i)), 1u) << "scan " << scan << " key " << i;
    }
  }
  h.CheckAgainstModel();
  EXPECT_GT(calls_while_rehashing, 100) << "resizes should overlap the scans (" << total_rounds
                                        << " calls in all)";
}

TEST(ProbeTableTest, ScanGuaranteeAcrossIncrementalGrowthAndShrink) {
  for (uint64_t seed : {11, 12, 13}) ScanUnderChurn(seed, /*grow_first=*/true);
  for (uint64_t seed : {21, 22, 23}) ScanUnderChurn(seed, /*grow_first=*/false);
}

// A full scan of a table that stays mid-resize (nothing changes between
// calls) returns every key exactly once.
TEST(ProbeTableTest, ScanOfAFrozenResizeReturnsEachKeyOnce) {
  for (bool grow : {true, false}) {
    Harness<8> h;
    int i = 0;
    if (grow) {
      while (h.table.size() < 2000 || !h.table.rehashing()) h.Insert(Key(i++));
    } else {
      for (; i < 4000; ++i) h.Insert(Key(i));
      while (h.table.RehashStep(100)) {
      }
      while (!h.table.rehashing()) h.Remove(Key(--i));
    }
    // Partly moved.
    h.table.RehashStep(200);
    ASSERT_TRUE(h.table.rehashing());
    std::multiset<std::string> seen;
    uint64_t cursor = 0;
    do {
      cursor = h.table.Scan(cursor, 3, [&](const TestEntry* e) { seen.insert(e->key); });
    } while (cursor != 0);
    EXPECT_TRUE(h.table.rehashing());
    ASSERT_EQ(seen.size(), h.model.size()) << (grow ? "growth" : "shrink");
    for (const std::string& k : h.model) EXPECT_EQ(seen.count(k), 1u) << k;
  }
}

TEST(ProbeTableTest, ResetDuringAResize) {
  Harness<8> h;
  int i = 0;
  while (h.table.size() < 1000 || !h.table.rehashing()) h.Insert(Key(i++));
  h.table.ForEach([](TestEntry* e) { delete e; });
  h.table.Reset();
  h.model.clear();
  EXPECT_FALSE(h.table.rehashing());
  EXPECT_EQ(h.table.size(), 0u);
  EXPECT_EQ(h.table.memory_usage(), 0u);
  h.Insert("again");
  h.CheckAgainstModel();
}

TEST(ProbeTableTest, MoveDuringAResize) {
  Harness<8> h;
  int i = 0;
  while (h.table.size() < 1000 || !h.table.rehashing()) h.Insert(Key(i++));
  typename Harness<8>::Table moved(std::move(h.table));
  EXPECT_EQ(h.table.size(), 0u);
  EXPECT_FALSE(h.table.rehashing());
  EXPECT_TRUE(moved.rehashing());
  for (const std::string& k : h.model) ASSERT_NE(moved.Find(k, TestHash(k)), nullptr);
  while (moved.RehashStep(10)) {
  }
  for (const std::string& k : h.model) ASSERT_NE(moved.Find(k, TestHash(k)), nullptr);
  moved.ForEach([](TestEntry* e) { delete e; });
  h.model.clear();
}

}  // namespace
}  // namespace tandem::kv
