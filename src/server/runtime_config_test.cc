#include "server/runtime_config.h"

#include <gtest/gtest.h>

namespace tandem::server {
namespace {

TEST(RuntimeConfig, GetMatchesGlobPatterns) {
  RuntimeConfig rc;
  auto all_max = rc.Get({"maxmemory*"});
  ASSERT_GE(all_max.size(), 3u);
  for (auto& [name, value] : all_max) EXPECT_EQ(name.rfind("maxmemory", 0), 0u) << name;
  auto one = rc.Get({"MAXMEMORY"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].second, "0");
  EXPECT_TRUE(rc.Get({"no-such-parameter"}).empty());
}

TEST(RuntimeConfig, SetValidatesAndCanonicalizes) {
  RuntimeConfig rc;
  ASSERT_TRUE(rc.Set({{"maxmemory", "1mb"}}).ok());
  EXPECT_EQ(*rc.Value("maxmemory"), "1048576");
  ASSERT_TRUE(rc.Set({{"maxmemory-policy", "ALLKEYS-LRU"}}).ok());
  EXPECT_EQ(*rc.Value("maxmemory-policy"), "allkeys-lru");
  Status st = rc.Set({{"maxmemory-policy", "bogus"}});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("CONFIG SET failed (possibly related to argument 'maxmemory-policy')"),
            std::string::npos);
  EXPECT_FALSE(rc.Set({{"activerehashing", "maybe"}}).ok());
  EXPECT_FALSE(rc.Set({{"hz", "abc"}}).ok());
}

TEST(RuntimeConfig, SetIsAtomicAcrossPairs) {
  RuntimeConfig rc;
  Status st = rc.Set({{"timeout", "5"}, {"nonexistent", "1"}});
  EXPECT_EQ(st.message(), "ERR Unknown option or number of arguments for CONFIG SET - 'nonexistent'");
  EXPECT_EQ(*rc.Value("timeout"), "0");
}

TEST(RuntimeConfig, ImmutableAndAliases) {
  RuntimeConfig rc;
  Status st = rc.Set({{"port", "1234"}});
  EXPECT_NE(st.message().find("can't set immutable config"), std::string::npos);
  ASSERT_TRUE(rc.Set({{"hash-max-ziplist-entries", "64"}}).ok());
  EXPECT_EQ(*rc.Value("hash-max-listpack-entries"), "64");
  auto alias = rc.Get({"hash-max-ziplist-entries"});
  ASSERT_EQ(alias.size(), 1u);
  EXPECT_EQ(alias[0].second, "64");
}

TEST(RuntimeConfig, HookRejectionLeavesValue) {
  RuntimeConfig rc;
  rc.SetHook("hz", [](const std::string&) { return Status::InvalidArgument("nope"); });
  EXPECT_FALSE(rc.Set({{"hz", "20"}}).ok());
  EXPECT_EQ(*rc.Value("hz"), "10");
}

TEST(RuntimeConfig, ParseMemoryUnits) {
  int64_t v;
  ASSERT_TRUE(ParseMemory("4k", &v));
  EXPECT_EQ(v, 4000);
  ASSERT_TRUE(ParseMemory("2GB", &v));
  EXPECT_EQ(v, 2LL << 30);
  EXPECT_FALSE(ParseMemory("12x", &v));
  EXPECT_FALSE(ParseMemory("", &v));
}

}  // namespace
}  // namespace tandem::server
