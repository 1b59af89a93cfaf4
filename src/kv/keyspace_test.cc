#include "kv/keyspace.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace tandem::kv {
namespace {

std::string Key(int i) { return "key:" + std::to_string(i); }

TEST(KeyspaceTest, SetFindErase) {
  Keyspace ks;
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.Find("a"), nullptr);
  ks.Set("a", Object::String("1"));
  ASSERT_NE(ks.Find("a"), nullptr);
  EXPECT_EQ(ks.Find("a")->str(), "1");
  ks.Set("a", Object::String("2"));
  EXPECT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks.Find("a")->str(), "2");
  EXPECT_TRUE(ks.Erase("a"));
  EXPECT_FALSE(ks.Erase("a"));
  EXPECT_EQ(ks.size(), 0u);
  ks.Set("", Object::String("empty key"));
  EXPECT_EQ(ks.Find("")->str(), "empty key");
}

TEST(KeyspaceTest, SwapExchangesKeysAndExpiries) {
  Keyspace a, b;
  for (int i = 0; i < 1000; ++i) a.Set(Key(i), Object::String("a" + std::to_string(i)));
  ASSERT_TRUE(a.SetExpire(Key(7), 123456));
  b.Set("only-in-b", Object::String("b"));
  a.Swap(b);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a.Find("only-in-b")->str(), "b");
  EXPECT_EQ(a.Find(Key(7)), nullptr);
  EXPECT_EQ(a.expires_count(), 0u);
  ASSERT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.Find(Key(999))->str(), "a999");
  EXPECT_EQ(b.GetExpire(Key(7)), 123456);
  EXPECT_EQ(b.expires_count(), 1u);
  b.Set(Key(1000), Object::String("new"));  // still a working table
  EXPECT_EQ(b.size(), 1001u);
}

TEST(KeyspaceTest, ManyKeysAgainstReferenceModel) {
  Keyspace ks;
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(42);
  for (int step = 0; step < 200000; ++step) {
    std::string k = Key(static_cast<int>(rng() % 5000));
    switch (rng() % 3) {
      case 0:
      case 1:
        ks.Set(k, Object::String(std::to_string(step)));
        model[k] = std::to_string(step);
        break;
      case 2:
        EXPECT_EQ(ks.Erase(k), model.erase(k) == 1);
        break;
    }
  }
  EXPECT_EQ(ks.size(), model.size());
  for (const auto& [k, v] : model) {
    ASSERT_NE(ks.Find(k), nullptr) << k;
    EXPECT_EQ(ks.Find(k)->str(), v);
  }
  size_t seen = 0;
  ks.ForEach([&](std::string_view k, const Object& o, int64_t) {
    ++seen;
    EXPECT_EQ(model.at(std::string(k)), o.str());
  });
  EXPECT_EQ(seen, model.size());
  // Shrinks back down when emptied.
  for (const auto& [k, v] : model) EXPECT_TRUE(ks.Erase(k));
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_LT(ks.MemoryUsage(), 1024u);
}

TEST(KeyspaceTest, ExpiryTracking) {
  Keyspace ks;
  EXPECT_FALSE(ks.SetExpire("missing", 100));
  EXPECT_EQ(ks.GetExpire("missing"), kNoExpire);
  ks.Set("a", Object::String("1"));
  ks.Set("b", Object::String("1"));
  EXPECT_EQ(ks.GetExpire("a"), kNoExpire);
  EXPECT_TRUE(ks.SetExpire("a", 100));
  EXPECT_TRUE(ks.SetExpire("b", 200));
  EXPECT_EQ(ks.expires_count(), 2u);
  EXPECT_TRUE(ks.SetExpire("a", 150));  // update, not a second entry
  EXPECT_EQ(ks.expires_count(), 2u);
  EXPECT_EQ(ks.GetExpire("a"), 150);
  // Overwrite drops the TTL unless keep_ttl.
  ks.Set("b", Object::String("2"), /*keep_ttl=*/true);
  EXPECT_EQ(ks.GetExpire("b"), 200);
  ks.Set("b", Object::String("3"));
  EXPECT_EQ(ks.GetExpire("b"), kNoExpire);
  EXPECT_EQ(ks.expires_count(), 1u);
  EXPECT_TRUE(ks.Persist("a"));
  EXPECT_FALSE(ks.Persist("a"));
  EXPECT_EQ(ks.expires_count(), 0u);
  ks.SetExpire("a", 10);
  EXPECT_TRUE(ks.Erase("a"));
  EXPECT_EQ(ks.expires_count(), 0u);
}

TEST(KeyspaceTest, SampleExpiringVisitsOnlyVolatileKeysDistinctly) {
  Keyspace ks;
  for (int i = 0; i < 100; ++i) {
    ks.Set(Key(i), Object::String("v"));
    if (i % 2 == 0) ks.SetExpire(Key(i), 1000 + i);
  }
  for (uint64_t r : {0ull, 7ull, 12345678901ull}) {
    std::set<std::string> seen;
    ks.SampleExpiring(r, 20, [&](std::string_view k, int64_t at) {
      EXPECT_EQ(ks.GetExpire(k), at);
      EXPECT_TRUE(seen.insert(std::string(k)).second);
    });
    EXPECT_EQ(seen.size(), 20u);
  }
  std::set<std::string> all;
  ks.SampleExpiring(3, 1000, [&](std::string_view k, int64_t) { all.insert(std::string(k)); });
  EXPECT_EQ(all.size(), 50u);
}

TEST(KeyspaceTest, ExtractMovesValueAndExpiry) {
  Keyspace ks;
  Object h = Object::NewHash();
  h.hash().Set("f", "v");
  ks.Set("h", std::move(h));
  ks.SetExpire("h", 77);
  int64_t at = 0;
  std::optional<Object> o = ks.Extract("h", &at);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(at, 77);
  EXPECT_EQ(*o->hash().Get("f"), "v");
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.expires_count(), 0u);
  EXPECT_FALSE(ks.Extract("h", &at).has_value());
}

TEST(KeyspaceTest, RandomKeyReturnsExistingKeys) {
  Keyspace ks;
  EXPECT_EQ(ks.RandomKey(1), "");
  for (int i = 0; i < 50; ++i) ks.Set(Key(i), Object::String("v"));
  std::set<std::string> seen;
  for (uint64_t r = 0; r < 1000; ++r) {
    std::string k = ks.RandomKey(r * 0x9e3779b97f4a7c15ull);
    ASSERT_NE(ks.Find(k), nullptr);
    seen.insert(k);
  }
  EXPECT_GT(seen.size(), 25u);
}

TEST(KeyspaceTest, ScanVisitsEveryKeyOnce) {
  Keyspace ks;
  for (int i = 0; i < 1000; ++i) ks.Set(Key(i), Object::String("v"));
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = ks.Scan(cursor, 10,
                     [&](std::string_view k, const Object&) { seen.insert(std::string(k)); });
  } while (cursor != 0);
  EXPECT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen.count(Key(i)), 1u);
}

TEST(KeyspaceTest, ScanOfEmptyKeyspaceEndsAtOnce) {
  Keyspace ks;
  int calls = 0;
  EXPECT_EQ(ks.Scan(0, 10, [&](std::string_view, const Object&) { ++calls; }), 0u);
  EXPECT_EQ(calls, 0);
}

// Keys present for the whole scan are returned at least once while other
// keys are added (the table grows several times) or removed (it shrinks).
void ScanWhileResizing(bool grow) {
  Keyspace ks;
  const int kStable = 500;
  for (int i = 0; i < kStable; ++i) ks.Set(Key(i), Object::String("stable"));
  int churn = 0;
  if (!grow) {
    for (; churn < 20000; ++churn) ks.Set("churn" + std::to_string(churn), Object::String("x"));
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int rounds = 0;
  do {
    cursor = ks.Scan(cursor, 5, [&](std::string_view k, const Object& o) {
      if (o.str() == "stable") seen.insert(std::string(k));
    });
    // Fewer keys per round than buckets visited, so the scan finishes.
    if (grow) {
      for (int j = 0; j < 2; ++j, ++churn) {
        ks.Set("churn" + std::to_string(churn), Object::String("x"));
      }
    } else {
      for (int j = 0; j < 50 && churn > 0; ++j) ks.Erase("churn" + std::to_string(--churn));
    }
    ++rounds;
  } while (cursor != 0 && rounds < 100000);
  EXPECT_EQ(cursor, 0u);
  // 500 + 400 keys cross the growth point (7/8) of the 1024-slot table;
  // 20000 -> 8000 keys crosses the shrink point (1/10) of the 32768-slot one.
  EXPECT_GT(grow ? churn : 20000 - churn, grow ? 400 : 12000) << "the table should have resized";
  EXPECT_EQ(seen.size(), static_cast<size_t>(kStable));
}

TEST(KeyspaceTest, ScanGuaranteeAcrossGrowth) { ScanWhileResizing(true); }
TEST(KeyspaceTest, ScanGuaranteeAcrossShrink) { ScanWhileResizing(false); }

TEST(KeyspaceTest, AccessMetadata) {
  Keyspace ks;
  ks.SetAccessClock(5000);
  ks.Set("a", Object::String("v"));  // stamped with the access clock
  EXPECT_EQ(ks.IdleMs("a", 5000), 0);
  EXPECT_EQ(ks.IdleMs("a", 7000), 2000);
  ks.Touch("a", 10'000);
  EXPECT_EQ(ks.IdleMs("a", 15'000), 5000);
  EXPECT_EQ(ks.AccessCount("a"), 2u);
  for (int i = 0; i < 500; ++i) ks.Touch("a", 20'000);
  EXPECT_EQ(ks.AccessCount("a"), 255u);  // saturates
  EXPECT_EQ(ks.IdleMs("missing", 1), 0);
}

TEST(KeyspaceTest, ReadsRecordNoAccessWhileTrackingIsOff) {
  Keyspace ks;
  ks.SetAccessClock(5000);
  ks.Set("a", Object::String("v"));
  ks.set_access_tracking(false);  // a snapshot child shares the pages
  int64_t expire_at;
  ks.Touch("a", 10'000);
  ASSERT_NE(ks.Access("a", &expire_at, 11'000), nullptr);
  EXPECT_EQ(ks.IdleMs("a", 15'000), 10'000);
  EXPECT_EQ(ks.AccessCount("a"), 1u);
  ks.SetAccessClock(12'000);
  ks.Set("a", Object::String("w"));  // a write stamps anyway (it writes the node)
  EXPECT_EQ(ks.IdleMs("a", 15'000), 3000);
  ks.set_access_tracking(true);
  ks.Touch("a", 14'000);
  EXPECT_EQ(ks.IdleMs("a", 15'000), 1000);
  EXPECT_EQ(ks.AccessCount("a"), 3u);
}

TEST(KeyspaceTest, AccessStampsNoKeyExpiredByThen) {
  Keyspace ks;
  ks.SetAccessClock(5000);
  ks.Set("a", Object::String("v"));
  ASSERT_TRUE(ks.SetExpire("a", 8000));
  int64_t expire_at;
  ASSERT_NE(ks.Access("a", &expire_at, 7000), nullptr);  // live: stamped
  EXPECT_EQ(ks.IdleMs("a", 9000), 2000);
  ASSERT_NE(ks.Access("a", &expire_at, 8000), nullptr);  // expired at 8000: not stamped
  EXPECT_EQ(expire_at, 8000);
  EXPECT_EQ(ks.IdleMs("a", 9000), 2000);
  EXPECT_EQ(ks.AccessCount("a"), 2u);
}

TEST(KeyspaceTest, BinaryKeys) {
  Keyspace ks;
  std::string k1("a\0b", 3), k2("a\0c", 3);
  ks.Set(k1, Object::String("1"));
  ks.Set(k2, Object::String("2"));
  EXPECT_EQ(ks.Find(k1)->str(), "1");
  EXPECT_EQ(ks.Find(k2)->str(), "2");
  EXPECT_EQ(ks.Find("a"), nullptr);
}


// Expiry times live in a side table indexed by node; check it against a
// model through inserts, overwrites, TTL changes, renames and deletes, with
// the side table growing and shrinking.
TEST(KeyspaceTest, ExpiryTableAgainstReferenceModel) {
  Keyspace ks;
  std::map<std::string, int64_t> ttl;  // key -> expiry (kNoExpire = none)
  std::mt19937_64 rng(7);
  for (int step = 0; step < 300000; ++step) {
    std::string k = Key(static_cast<int>(rng() % 4000));
    switch (rng() % 8) {
      case 0:
      case 1:
        ks.Set(k, Object::String("v"));
        ttl[k] = kNoExpire;
        break;
      case 2:
        ks.Set(k, Object::String("w"), /*keep_ttl=*/true);
        if (!ttl.count(k)) ttl[k] = kNoExpire;
        break;
      case 3:
      case 4: {
        int64_t at = static_cast<int64_t>(rng() % 1000000);
        EXPECT_EQ(ks.SetExpire(k, at), ttl.count(k) == 1);
        if (ttl.count(k)) ttl[k] = at;
        break;
      }
      case 5:
        EXPECT_EQ(ks.Persist(k), ttl.count(k) == 1 && ttl[k] != kNoExpire);
        if (ttl.count(k)) ttl[k] = kNoExpire;
        break;
      case 6:
        EXPECT_EQ(ks.Erase(k), ttl.erase(k) == 1);
        break;
      case 7: {
        int64_t at = 0;
        std::optional<Object> o = ks.Extract(k, &at);
        EXPECT_EQ(o.has_value(), ttl.count(k) == 1);
        if (o.has_value()) {
          EXPECT_EQ(at, ttl[k]);
          ttl.erase(k);
        }
        break;
      }
    }
    if (step % 50000 == 0 || step > 299000) {
      size_t volatile_keys = 0;
      for (const auto& [key, at] : ttl) {
        ASSERT_EQ(ks.GetExpire(key), at) << key;
        if (at != kNoExpire) ++volatile_keys;
      }
      ASSERT_EQ(ks.expires_count(), volatile_keys);
    }
  }
  ks.ForEach([&](std::string_view k, const Object&, int64_t at) {
    EXPECT_EQ(ttl.at(std::string(k)), at);
  });
  for (const auto& [key, at] : ttl) ks.Erase(key);
  EXPECT_EQ(ks.expires_count(), 0u);
  EXPECT_LT(ks.MemoryUsage(), 1024u);
}

TEST(KeyspaceTest, LongAndEmptyKeys) {
  Keyspace ks;
  std::string long_key(70000, 'k');  // longer than the 16-bit inline length
  std::string long_key2 = long_key;
  long_key2.back() = 'x';
  ks.Set(long_key, Object::String("long"));
  ks.Set(long_key2, Object::String("long2"));
  ks.Set("", Object::String("empty"));
  ks.SetExpire(long_key, 5);
  EXPECT_EQ(ks.Find(long_key)->str(), "long");
  EXPECT_EQ(ks.Find(long_key2)->str(), "long2");
  EXPECT_EQ(ks.Find("")->str(), "empty");
  EXPECT_EQ(ks.GetExpire(long_key), 5);
  std::set<std::string> keys;
  ks.ForEach([&](std::string_view k, const Object&, int64_t) { keys.insert(std::string(k)); });
  EXPECT_EQ(keys, (std::set<std::string>{"", long_key, long_key2}));
  EXPECT_GT(ks.MemoryUsage(), 140000u);
  EXPECT_TRUE(ks.Erase(long_key));
  EXPECT_EQ(ks.expires_count(), 0u);
}

TEST(KeyspaceTest, ReplacingAValueKeepsTheKeyAndMetadata) {
  Keyspace ks;
  ks.SetAccessClock(3000);
  ks.Set("k", Object::String(std::string(100, 'a')));  // heap string
  ks.SetExpire("k", 99);
  Object h = Object::NewHash();
  h.hash().Set("f", "v");
  ks.Set("k", std::move(h), /*keep_ttl=*/true);  // string -> hash
  EXPECT_TRUE(ks.Find("k")->is_hash());
  EXPECT_EQ(ks.GetExpire("k"), 99);
  EXPECT_EQ(ks.AccessCount("k"), 2u);
  ks.Set("k", Object::String("s"), /*keep_ttl=*/true);  // hash -> string
  EXPECT_EQ(ks.Find("k")->str(), "s");
  EXPECT_EQ(ks.GetExpire("k"), 99);
  EXPECT_EQ(ks.IdleMs("k", 5000), 2000);
}

}  // namespace
}  // namespace tandem::kv
