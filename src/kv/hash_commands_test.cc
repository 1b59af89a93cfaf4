#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "kv/testing/command_harness.h"
#include "kv/testing/reply_text.h"

namespace tandem::kv {
namespace {

using namespace testing;  // NOLINT: reply text helpers


// Splits a reply made of one aggregate header followed by bulk strings
// (possibly with nested *2 headers) into its bulk payloads.
std::vector<std::string> Bulks(const std::string& reply) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < reply.size()) {
    size_t e = reply.find("\r\n", p);
    if (reply[p] == '$') {
      int len = std::stoi(reply.substr(p + 1, e - p - 1));
      out.push_back(reply.substr(e + 2, len));
      p = e + 2 + len + 2;
    } else {
      p = e + 2;
    }
  }
  return out;
}

class HashCommandsTest : public ::testing::Test {
 protected:
  CommandHarness h;
};

TEST_F(HashCommandsTest, HSetAndHGet) {
  EXPECT_EQ(h.Run({"hset", "h", "a", "1", "b", "2"}), Int(2));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"hset", "h", "a", "1", "b", "2"}}));
  EXPECT_EQ(h.Run({"HSET", "h", "a", "10", "c", "3"}), Int(1));
  EXPECT_EQ(h.Run({"hget", "h", "a"}), Bulk("10"));
  EXPECT_EQ(h.Run({"hget", "h", "zz"}), kNil);
  EXPECT_EQ(h.Run({"hget", "nokey", "a"}), kNil);
  EXPECT_EQ(h.Run({"hlen", "h"}), Int(3));
  EXPECT_EQ(h.Run({"hset", "h", "a"}), Err("ERR wrong number of arguments for 'hset' command"));
  EXPECT_EQ(h.Run({"hset", "h", "a", "1", "b"}),
            Err("ERR wrong number of arguments for 'hset' command"));
  EXPECT_EQ(h.Run({"hmset", "h", "a", "1", "b"}),
            Err("ERR wrong number of arguments for 'hmset' command"));
  EXPECT_EQ(h.Run({"hmset", "h", "d", "4"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"hset", "h", "", ""}), Int(1));  // empty field and value
  EXPECT_EQ(h.Run({"hget", "h", ""}), Bulk(""));
}

TEST_F(HashCommandsTest, WrongType) {
  h.leader().keyspace().Set("s", Object::String("v"));
  h.follower().keyspace().Set("s", Object::String("v"));
  for (std::vector<std::string> cmd :
       std::vector<std::vector<std::string>>{{"hset", "s", "f", "v"},
                                             {"hsetnx", "s", "f", "v"},
                                             {"hget", "s", "f"},
                                             {"hmget", "s", "f"},
                                             {"hdel", "s", "f"},
                                             {"hexists", "s", "f"},
                                             {"hlen", "s"},
                                             {"hstrlen", "s", "f"},
                                             {"hkeys", "s"},
                                             {"hvals", "s"},
                                             {"hgetall", "s"},
                                             {"hincrby", "s", "f", "1"},
                                             {"hincrbyfloat", "s", "f", "1"},
                                             {"hscan", "s", "0"},
                                             {"hrandfield", "s"},
                                             {"hrandfield", "s", "2"}}) {
    EXPECT_EQ(h.Run(cmd), kWrongType) << cmd[0];
    EXPECT_TRUE(h.last_propagated().empty()) << cmd[0];
  }
}

TEST_F(HashCommandsTest, HSetNx) {
  EXPECT_EQ(h.Run({"hsetnx", "h", "f", "v"}), Int(1));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"hset", "h", "f", "v"}}));
  EXPECT_EQ(h.Run({"hsetnx", "h", "f", "w"}), Int(0));
  EXPECT_TRUE(h.last_propagated().empty());
  EXPECT_EQ(h.Run({"hget", "h", "f"}), Bulk("v"));
}

TEST_F(HashCommandsTest, HMGet) {
  h.Run({"hset", "h", "a", "1"});
  EXPECT_EQ(h.Run({"hmget", "h", "a", "b", "a"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n1\r\n");
  EXPECT_EQ(h.Run({"hmget", "nokey", "a", "b"}), "*2\r\n$-1\r\n$-1\r\n");
}

TEST_F(HashCommandsTest, HDelRemovesEmptyHash) {
  h.Run({"hset", "h", "a", "1", "b", "2"});
  EXPECT_EQ(h.Run({"hdel", "h", "a", "zz", "a"}), Int(1));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"hdel", "h", "a"}}));
  EXPECT_EQ(h.Run({"hdel", "h", "zz"}), Int(0));
  EXPECT_TRUE(h.last_propagated().empty());
  EXPECT_EQ(h.Run({"hdel", "h", "b"}), Int(1));
  EXPECT_EQ(h.Run({"exists", "h"}), Int(0));
  EXPECT_EQ(h.Run({"hdel", "nokey", "b"}), Int(0));
}

TEST_F(HashCommandsTest, HExistsHStrLen) {
  h.Run({"hset", "h", "a", "hello"});
  EXPECT_EQ(h.Run({"hexists", "h", "a"}), Int(1));
  EXPECT_EQ(h.Run({"hexists", "h", "b"}), Int(0));
  EXPECT_EQ(h.Run({"hexists", "nokey", "b"}), Int(0));
  EXPECT_EQ(h.Run({"hstrlen", "h", "a"}), Int(5));
  EXPECT_EQ(h.Run({"hstrlen", "h", "b"}), Int(0));
  EXPECT_EQ(h.Run({"hlen", "nokey"}), Int(0));
}

TEST_F(HashCommandsTest, HKeysHValsHGetAll) {
  h.Run({"hset", "h", "a", "1", "b", "2"});
  std::vector<std::string> keys = Bulks(h.Run({"hkeys", "h"}));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), (std::set<std::string>{"a", "b"}));
  std::vector<std::string> vals = Bulks(h.Run({"hvals", "h"}));
  EXPECT_EQ(std::set<std::string>(vals.begin(), vals.end()), (std::set<std::string>{"1", "2"}));
  std::string all = h.Run({"hgetall", "h"});
  EXPECT_EQ(all.substr(0, 4), "*4\r\n");
  std::vector<std::string> flat = Bulks(all);
  ASSERT_EQ(flat.size(), 4u);
  std::map<std::string, std::string> m{{flat[0], flat[1]}, {flat[2], flat[3]}};
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(h.Run({"hgetall", "nokey"}), "*0\r\n");
  EXPECT_EQ(h.Run({"hkeys", "nokey"}), "*0\r\n");
  h.SetProtocol(resp::Protocol::kResp3);
  EXPECT_EQ(h.Run({"hgetall", "h"}).substr(0, 4), "%2\r\n");
  EXPECT_EQ(h.Run({"hgetall", "nokey"}), "%0\r\n");
}

TEST_F(HashCommandsTest, HIncrBy) {
  EXPECT_EQ(h.Run({"hincrby", "h", "n", "5"}), Int(5));
  EXPECT_EQ(h.Run({"hincrby", "h", "n", "-7"}), Int(-2));
  EXPECT_EQ(h.Run({"hget", "h", "n"}), Bulk("-2"));
  EXPECT_EQ(h.Run({"hincrby", "h", "n", "x"}), Err("ERR value is not an integer or out of range"));
  h.Run({"hset", "h", "s", "abc", "big", "9223372036854775807", "lead", "01"});
  EXPECT_EQ(h.Run({"hincrby", "h", "s", "1"}), Err("ERR hash value is not an integer"));
  EXPECT_EQ(h.Run({"hincrby", "h", "lead", "1"}), Err("ERR hash value is not an integer"));
  EXPECT_EQ(h.Run({"hincrby", "h", "big", "1"}), Err("ERR increment or decrement would overflow"));
  EXPECT_TRUE(h.last_propagated().empty());
  EXPECT_EQ(h.Run({"hincrby", "h", "big", "-1"}), Int(9223372036854775806));
  h.Run({"hset", "h", "min", "-9223372036854775808"});
  EXPECT_EQ(h.Run({"hincrby", "h", "min", "-1"}), Err("ERR increment or decrement would overflow"));
}

TEST_F(HashCommandsTest, HIncrByFloatPropagatesResult) {
  h.Run({"hset", "h", "a", "1"});
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "a", "10.5"}), Bulk("11.5"));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"hset", "h", "a", "11.5"}}));
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "a", "0.1"}), Bulk("11.6"));
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "a", "-11.6"}), Bulk("0"));
  h.Run({"hset", "h", "c", "1.5e3"});
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "c", "1"}), Bulk("1501"));
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "x", "3.0"}), Bulk("3"));
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "x", "abc"}), Err("ERR value is not a valid float"));
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "x", "inf"}), Err("ERR value is NaN or Infinity"));
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "x", " 1"}), Err("ERR value is not a valid float"));
  h.Run({"hset", "h", "s", "abc"});
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "s", "1"}), Err("ERR hash value is not a float"));
  h.Run({"hset", "h", "huge", "1e4932"});
  EXPECT_EQ(h.Run({"hincrbyfloat", "h", "huge", "1e4932"}),
            Err("ERR increment would produce NaN or Infinity"));
  EXPECT_TRUE(h.last_propagated().empty());
}

TEST_F(HashCommandsTest, HScanSmallHashReturnsEverything) {
  h.Run({"hset", "h", "a", "1", "b", "2", "c", "3"});
  std::string reply = h.Run({"hscan", "h", "0", "count", "1"});
  EXPECT_EQ(reply.substr(0, 15), "*2\r\n$1\r\n0\r\n*6\r\n");
  reply = h.Run({"hscan", "h", "0", "match", "[ab]"});
  EXPECT_EQ(reply.substr(0, 15), "*2\r\n$1\r\n0\r\n*4\r\n");
  EXPECT_EQ(h.Run({"hscan", "nokey", "0"}), "*2\r\n$1\r\n0\r\n*0\r\n");
  EXPECT_EQ(h.Run({"hscan", "h", "x"}), Err("ERR invalid cursor"));
  EXPECT_EQ(h.Run({"hscan", "h", "0", "type", "hash"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"hscan", "h", "0", "count", "0"}), Err("ERR syntax error"));
}

TEST_F(HashCommandsTest, HScanLargeHashIteratesWithCursor) {
  std::map<std::string, std::string> model;
  for (int i = 0; i < 1000; ++i) {
    std::string f = "field" + std::to_string(i);
    model[f] = std::to_string(i);
    h.Run({"hset", "h", f, model[f]});
  }
  std::map<std::string, std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    std::string reply = h.Run({"hscan", "h", cursor, "count", "20"});
    std::vector<std::string> bulks = Bulks(reply);
    ASSERT_FALSE(bulks.empty());
    cursor = bulks[0];
    ASSERT_EQ(bulks.size() % 2, 1u);
    for (size_t i = 1; i + 1 < bulks.size(); i += 2) seen[bulks[i]] = bulks[i + 1];
    ++calls;
  } while (cursor != "0" && calls < 10000);
  EXPECT_EQ(seen, model);
  EXPECT_GT(calls, 10);  // it really paged
}

TEST_F(HashCommandsTest, HRandFieldSingle) {
  EXPECT_EQ(h.Run({"hrandfield", "nokey"}), kNil);
  h.Run({"hset", "h", "only", "v"});
  EXPECT_EQ(h.Run({"hrandfield", "h"}), Bulk("only"));
}

TEST_F(HashCommandsTest, HRandFieldCounts) {
  h.Run({"hset", "h", "a", "1", "b", "2", "c", "3"});
  EXPECT_EQ(h.Run({"hrandfield", "nokey", "3"}), "*0\r\n");
  EXPECT_EQ(h.Run({"hrandfield", "h", "0"}), "*0\r\n");
  // Positive: distinct fields, at most the hash's size.
  std::vector<std::string> two = Bulks(h.Run({"hrandfield", "h", "2"}));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NE(two[0], two[1]);
  std::vector<std::string> all = Bulks(h.Run({"hrandfield", "h", "10"}));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), (std::set<std::string>{"a", "b", "c"}));
  // Negative: exactly |count| picks, repetitions allowed.
  std::vector<std::string> many = Bulks(h.Run({"hrandfield", "h", "-10"}));
  EXPECT_EQ(many.size(), 10u);
  for (const std::string& f : many) EXPECT_TRUE(f == "a" || f == "b" || f == "c") << f;
  // WITHVALUES: field then its value (RESP2 flat).
  std::string reply = h.Run({"hrandfield", "h", "-5", "WITHVALUES"});
  EXPECT_EQ(reply.substr(0, 5), "*10\r\n");
  std::vector<std::string> pairs = Bulks(reply);
  ASSERT_EQ(pairs.size(), 10u);
  for (size_t i = 0; i < pairs.size(); i += 2) {
    EXPECT_EQ(pairs[i + 1], std::string(1, static_cast<char>('1' + (pairs[i][0] - 'a'))));
  }
}

TEST_F(HashCommandsTest, HRandFieldResp3NestsPairs) {
  h.SetProtocol(resp::Protocol::kResp3);
  h.Run({"hset", "h", "a", "1"});
  EXPECT_EQ(h.Run({"hrandfield", "h", "1", "withvalues"}), "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
  EXPECT_EQ(h.Run({"hrandfield", "h", "-2", "withvalues"}),
            "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
  EXPECT_EQ(h.Run({"hrandfield", "h", "-2"}), "*2\r\n$1\r\na\r\n$1\r\na\r\n");
}

TEST_F(HashCommandsTest, HRandFieldErrors) {
  h.Run({"hset", "h", "a", "1"});
  EXPECT_EQ(h.Run({"hrandfield", "h", "x"}), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(h.Run({"hrandfield", "h", "1", "withvalues", "x"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"hrandfield", "h", "1", "foo"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"hrandfield", "h", "9223372036854775807", "withvalues"}),
            Err("ERR value is out of range"));
  EXPECT_EQ(h.Run({"hrandfield", "h", "-9223372036854775808"}),
            Err("ERR value is out of range, value must between -9223372036854775807 and "
                "9223372036854775807"));
}

TEST_F(HashCommandsTest, ReplicaReadHidesExpiredHash) {
  h.Run({"hset", "h", "a", "1"});
  EXPECT_EQ(h.ReplicaRead({"hget", "h", "a"}), Bulk("1"));
  h.Run({"pexpire", "h", "10"});
  h.AdvanceClock(10);
  EXPECT_EQ(h.ReplicaRead({"hget", "h", "a"}), kNil);
  EXPECT_EQ(h.ReplicaRead({"hlen", "h"}), Int(0));
  EXPECT_EQ(h.ReplicaRead({"hset", "h", "a", "2"}),
            Err("READONLY You can't write against a read only replica."));
}

TEST_F(HashCommandsTest, ManyFieldsAgainstModel) {
  std::map<std::string, std::string> model;
  uint64_t x = 12345;
  for (int step = 0; step < 3000; ++step) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    std::string f = "f" + std::to_string((x >> 33) % 300);
    if ((x >> 20) % 3 == 0) {
      h.Run({"hdel", "h", f});
      model.erase(f);
    } else {
      h.Run({"hset", "h", f, std::to_string(step)});
      model[f] = std::to_string(step);
    }
  }
  EXPECT_EQ(h.Run({"hlen", "h"}), Int(static_cast<int64_t>(model.size())));
  for (const auto& [f, v] : model) EXPECT_EQ(h.Run({"hget", "h", f}), Bulk(v));
}

}  // namespace
}  // namespace tandem::kv
