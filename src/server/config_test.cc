#include "server/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

namespace tandem::server {
namespace {

Result<Config> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tandemd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(Config, DefaultsMatchProductDefinition) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->node_id, 1u);
  EXPECT_EQ(c->listen.host, "127.0.0.1");
  EXPECT_EQ(c->listen.port, 6379);
  EXPECT_EQ(c->advertise.ToString(), "127.0.0.1:6379");
  EXPECT_EQ(c->data_dir, "./tandem-data");
  EXPECT_EQ(c->durability, Durability::kMajority);
  EXPECT_EQ(c->fsync, FsyncPolicy::kAlways);
  EXPECT_TRUE(c->cluster.empty());
  EXPECT_EQ(c->snapshot_method, SnapshotMethod::kCapture);
  EXPECT_EQ(c->huge_pages, HugePages::kWhileLoading);
}

TEST(Config, HugePagesFollowTheSnapshotMethodUnlessGiven) {
  auto fork = Parse({"--snapshot-method", "fork"});
  ASSERT_TRUE(fork.ok()) << fork.status().ToString();
  EXPECT_EQ(fork->huge_pages, HugePages::kNever);
  auto fork_on = Parse({"--snapshot-method", "fork", "--huge-pages", "on"});
  ASSERT_TRUE(fork_on.ok());
  EXPECT_EQ(fork_on->huge_pages, HugePages::kAlways);
  auto capture_off = Parse({"--huge-pages", "off"});
  ASSERT_TRUE(capture_off.ok());
  EXPECT_EQ(capture_off->huge_pages, HugePages::kNever);
  EXPECT_FALSE(Parse({"--huge-pages", "always"}).ok());
}

TEST(Config, ParsesFlags) {
  auto c = Parse({"--node-id", "2", "--listen", "127.0.0.1:7002", "--cluster",
                  "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003", "--fsync", "no",
                  "--durability", "leader", "--requirepass", "s3cret"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->node_id, 2u);
  EXPECT_EQ(c->listen.port, 7002);
  ASSERT_EQ(c->cluster.size(), 3u);
  EXPECT_EQ(c->cluster.at(3).port, 7003);
  EXPECT_EQ(c->fsync, FsyncPolicy::kNo);
  EXPECT_EQ(c->durability, Durability::kLeader);
  EXPECT_EQ(c->requirepass, "s3cret");
}

TEST(Config, RejectsBadValuesWithTheFlagName) {
  auto bad_port = Parse({"--listen", "127.0.0.1:99999"});
  ASSERT_FALSE(bad_port.ok());
  EXPECT_NE(bad_port.status().message().find("--listen"), std::string::npos);
  EXPECT_FALSE(Parse({"--fsync", "sometimes"}).ok());
  EXPECT_FALSE(Parse({"--node-id", "0"}).ok());
  auto not_member = Parse({"--node-id", "4", "--cluster", "1=127.0.0.1:1,2=127.0.0.1:2"});
  ASSERT_FALSE(not_member.ok());
  EXPECT_NE(not_member.status().message().find("--node-id 4"), std::string::npos);
  EXPECT_FALSE(Parse({"--heartbeat-ms", "600", "--election-timeout-ms", "1000"}).ok());
}

TEST(Config, ClusterSpecErrors) {
  EXPECT_FALSE(ParseClusterSpec("1=127.0.0.1:1,1=127.0.0.1:2").ok());
  EXPECT_FALSE(ParseClusterSpec("x=127.0.0.1:1").ok());
  EXPECT_FALSE(ParseClusterSpec("1=127.0.0.1").ok());
  auto ok = ParseClusterSpec("1=[::1]:7001,2=:7002");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at(1).host, "::1");
  EXPECT_EQ(ok->at(2).host, "127.0.0.1");
}

TEST(Config, ReadsConfigFileWithFlagKeys) {
  std::string path = ::testing::TempDir() + "/tandemd_test.conf";
  {
    std::ofstream f(path);
    f << "node-id = 7\nlisten = \"127.0.0.1:7777\"\nfsync = \"everysec\"\n";
  }
  auto c = Parse({"--config", path, "--fsync", "no"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->node_id, 7u);
  EXPECT_EQ(c->listen.port, 7777);
  EXPECT_EQ(c->fsync, FsyncPolicy::kNo);  // the command line wins
}

}  // namespace
}  // namespace tandem::server
