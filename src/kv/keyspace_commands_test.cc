#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kv/testing/command_harness.h"
#include "kv/testing/reply_text.h"

namespace tandem::kv {
namespace {

using namespace testing;  // NOLINT: reply text helpers


class KeyspaceCommandsTest : public ::testing::Test {
 protected:
  // A string key made without depending on the string command group.
  void PutString(std::string_view key, std::string_view value) {
    h.leader().keyspace().Set(key, Object::String(std::string(value)));
    h.follower().keyspace().Set(key, Object::String(std::string(value)));
  }
  CommandHarness h;
};

TEST_F(KeyspaceCommandsTest, DelCountsAndPropagatesOnlyRemovedKeys) {
  h.Run({"hset", "a", "f", "1"});
  h.Run({"hset", "b", "f", "1"});
  EXPECT_EQ(h.Run({"del", "a", "missing", "b", "a"}), Int(2));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "a", "b"}}));
  EXPECT_EQ(h.Run({"del", "a"}), Int(0));
  EXPECT_TRUE(h.last_propagated().empty());
  h.Run({"hset", "c", "f", "1"});
  EXPECT_EQ(h.Run({"UNLINK", "c"}), Int(1));
  EXPECT_EQ(h.leader().keyspace().size(), 0u);
}

TEST_F(KeyspaceCommandsTest, ExistsCountsRepeats) {
  h.Run({"hset", "a", "f", "1"});
  EXPECT_EQ(h.Run({"exists", "a", "a", "nope"}), Int(2));
  EXPECT_EQ(h.Run({"touch", "a", "nope"}), Int(1));
}

TEST_F(KeyspaceCommandsTest, Type) {
  PutString("s", "v");
  h.Run({"hset", "h", "f", "1"});
  EXPECT_EQ(h.Run({"type", "s"}), "+string\r\n");
  EXPECT_EQ(h.Run({"type", "h"}), "+hash\r\n");
  EXPECT_EQ(h.Run({"type", "none"}), "+none\r\n");
}

TEST_F(KeyspaceCommandsTest, RenameKeepsValueAndTtl) {
  h.Run({"hset", "src", "f", "v"});
  h.Run({"expire", "src", "100"});
  h.Run({"hset", "dst", "old", "x"});
  EXPECT_EQ(h.Run({"rename", "src", "dst"}), kOk);
  EXPECT_EQ(h.Run({"exists", "src"}), Int(0));
  EXPECT_EQ(h.Run({"hget", "dst", "f"}), Bulk("v"));
  EXPECT_EQ(h.Run({"hget", "dst", "old"}), kNil);
  EXPECT_EQ(h.Run({"ttl", "dst"}), Int(100));
  // Renaming onto a key with a TTL replaces that TTL with the source's (none).
  h.Run({"hset", "plain", "f", "v"});
  EXPECT_EQ(h.Run({"rename", "plain", "dst"}), kOk);
  EXPECT_EQ(h.Run({"ttl", "dst"}), Int(-1));
}

TEST_F(KeyspaceCommandsTest, RenameErrorsAndSameKey) {
  EXPECT_EQ(h.Run({"rename", "nokey", "x"}), Err("ERR no such key"));
  EXPECT_EQ(h.Run({"renamenx", "nokey", "x"}), Err("ERR no such key"));
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"rename", "k", "k"}), kOk);
  EXPECT_EQ(h.Run({"renamenx", "k", "k"}), Int(0));
  EXPECT_TRUE(h.last_propagated().empty());
  h.Run({"hset", "other", "f", "v"});
  EXPECT_EQ(h.Run({"renamenx", "k", "other"}), Int(0));
  EXPECT_EQ(h.Run({"renamenx", "k", "fresh"}), Int(1));
  EXPECT_EQ(h.Run({"exists", "k", "fresh"}), Int(1));
}

TEST_F(KeyspaceCommandsTest, RenameNxOntoExpiredKeySucceeds) {
  h.Run({"hset", "k", "f", "v"});
  h.Run({"hset", "old", "f", "v"});
  h.Run({"pexpire", "old", "10"});
  h.AdvanceClock(10);
  EXPECT_EQ(h.Run({"renamenx", "k", "old"}), Int(1));
  // The lazily expired destination was deleted first, in the same record.
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "old"}, {"rename", "k", "old"}}));
}

TEST_F(KeyspaceCommandsTest, Copy) {
  h.Run({"hset", "src", "f", "v"});
  h.Run({"pexpire", "src", "5000"});
  EXPECT_EQ(h.Run({"copy", "src", "dst"}), Int(1));
  EXPECT_EQ(h.Run({"pttl", "dst"}), Int(5000));
  EXPECT_EQ(h.Run({"hset", "dst", "g", "w"}), Int(1));
  EXPECT_EQ(h.Run({"hexists", "src", "g"}), Int(0));  // deep copy
  EXPECT_EQ(h.Run({"copy", "src", "dst"}), Int(0));
  EXPECT_EQ(h.Run({"copy", "src", "dst", "REPLACE"}), Int(1));
  EXPECT_EQ(h.Run({"hexists", "dst", "g"}), Int(0));
  EXPECT_EQ(h.Run({"copy", "nosrc", "dst"}), Int(0));
  EXPECT_EQ(h.Run({"copy", "src", "src"}), Err("ERR source and destination objects are the same"));
  EXPECT_EQ(h.Run({"copy", "src", "x", "db", "0"}), Int(1));
  EXPECT_EQ(h.Run({"copy", "src", "y", "db", "1"}), Err("ERR DB index is out of range"));
  EXPECT_EQ(h.Run({"copy", "src", "y", "db", "x"}),
            Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(h.Run({"copy", "src", "y", "foo"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"copy", "src", "y", "db"}), Err("ERR syntax error"));
}

TEST_F(KeyspaceCommandsTest, KeysMatchesGlobAndHidesExpired) {
  for (std::string_view k : {"hello", "hallo", "hxllo", "other"}) h.Run({"hset", k, "f", "1"});
  std::string reply = h.Run({"keys", "h[ae]llo"});
  EXPECT_TRUE(reply == "*2\r\n$5\r\nhello\r\n$5\r\nhallo\r\n" ||
              reply == "*2\r\n$5\r\nhallo\r\n$5\r\nhello\r\n")
      << reply;
  EXPECT_EQ(h.Run({"keys", "*"}).substr(0, 4), "*4\r\n");
  EXPECT_EQ(h.Run({"keys", "nothing*"}), "*0\r\n");
  h.Run({"pexpire", "other", "1"});
  h.AdvanceClock(1);
  EXPECT_EQ(h.Run({"keys", "o*"}), "*0\r\n");
  EXPECT_TRUE(h.last_propagated().empty());  // KEYS hides, it does not delete
}

// Runs a full SCAN with the given options; returns every key seen.
std::multiset<std::string> FullScan(CommandHarness& h, std::vector<std::string> opts) {
  std::multiset<std::string> keys;
  std::string cursor = "0";
  int guard = 0;
  do {
    std::vector<std::string> args{"scan", cursor};
    args.insert(args.end(), opts.begin(), opts.end());
    std::string reply = h.Run(args);
    // *2\r\n$<n>\r\n<cursor>\r\n*<k>\r\n($<n>\r\n<key>\r\n)*
    size_t p = reply.find("\r\n", 4) + 2;
    size_t e = reply.find("\r\n", p);
    cursor = reply.substr(p, e - p);
    p = e + 2;
    e = reply.find("\r\n", p);
    int n = std::stoi(reply.substr(p + 1, e - p - 1));
    p = e + 2;
    for (int i = 0; i < n; ++i) {
      e = reply.find("\r\n", p);
      int len = std::stoi(reply.substr(p + 1, e - p - 1));
      keys.insert(reply.substr(e + 2, len));
      p = e + 2 + len + 2;
    }
  } while (cursor != "0" && ++guard < 100000);
  return keys;
}

TEST_F(KeyspaceCommandsTest, ScanReturnsEveryKeyWithFilters) {
  for (int i = 0; i < 300; ++i) {
    std::string k = "key:" + std::to_string(i);
    if (i % 3 == 0) {
      PutString(k, "v");
    } else {
      h.Run({"hset", k, "f", "v"});
    }
  }
  std::multiset<std::string> all = FullScan(h, {});
  EXPECT_EQ(all.size(), 300u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 300u);
  EXPECT_EQ(FullScan(h, {"COUNT", "1000"}).size(), 300u);
  EXPECT_EQ(FullScan(h, {"count", "3"}).size(), 300u);
  EXPECT_EQ(FullScan(h, {"TYPE", "string"}).size(), 100u);
  EXPECT_EQ(FullScan(h, {"type", "HASH"}).size(), 200u);
  EXPECT_EQ(FullScan(h, {"type", "list"}).size(), 0u);
  std::multiset<std::string> ones = FullScan(h, {"match", "key:1?", "count", "5"});
  EXPECT_EQ(ones.size(), 10u);
}

TEST_F(KeyspaceCommandsTest, ScanDeletesExpiredKeysOnLeader) {
  h.Run({"hset", "a", "f", "v"});
  h.Run({"hset", "b", "f", "v"});
  h.Run({"pexpire", "b", "5"});
  h.AdvanceClock(5);
  EXPECT_EQ(FullScan(h, {}), (std::multiset<std::string>{"a"}));
  EXPECT_EQ(h.leader().keyspace().size(), 1u);
  EXPECT_EQ(h.follower().keyspace().size(), 1u);
}

TEST_F(KeyspaceCommandsTest, ScanErrors) {
  EXPECT_EQ(h.Run({"scan", "abc"}), Err("ERR invalid cursor"));
  EXPECT_EQ(h.Run({"scan", " 1"}), Err("ERR invalid cursor"));
  EXPECT_EQ(h.Run({"scan", "99999999999999999999999"}), Err("ERR invalid cursor"));
  EXPECT_EQ(h.Run({"scan", "0", "count", "0"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"scan", "0", "count", "x"}), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(h.Run({"scan", "0", "match"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"scan", "0", "foo", "bar"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"scan", "0"}), "*2\r\n$1\r\n0\r\n*0\r\n");
}

TEST_F(KeyspaceCommandsTest, RandomKey) {
  EXPECT_EQ(h.Run({"randomkey"}), kNil);
  h.Run({"hset", "only", "f", "v"});
  EXPECT_EQ(h.Run({"randomkey"}), Bulk("only"));
  h.Run({"pexpire", "only", "1"});
  h.AdvanceClock(1);
  EXPECT_EQ(h.Run({"randomkey"}), kNil);
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "only"}}));
}

TEST_F(KeyspaceCommandsTest, ExpirePropagatesAbsolutePExpireAt) {
  h.Run({"hset", "k", "f", "v"});
  int64_t now = h.now_ms();
  EXPECT_EQ(h.Run({"expire", "k", "10"}), Int(1));
  EXPECT_EQ(h.last_propagated(),
            (std::vector<Argv>{{"pexpireat", "k", std::to_string(now + 10'000)}}));
  EXPECT_EQ(h.Run({"pexpire", "k", "1500"}), Int(1));
  EXPECT_EQ(h.last_propagated(),
            (std::vector<Argv>{{"pexpireat", "k", std::to_string(now + 1500)}}));
  EXPECT_EQ(h.Run({"expireat", "k", std::to_string(now / 1000 + 100)}), Int(1));
  EXPECT_EQ(h.Run({"pexpiretime", "k"}), Int((now / 1000 + 100) * 1000));
  EXPECT_EQ(h.Run({"pexpireat", "k", std::to_string(now + 7)}), Int(1));
  EXPECT_EQ(h.Run({"pttl", "k"}), Int(7));
  EXPECT_EQ(h.Run({"expire", "missing", "10"}), Int(0));
  EXPECT_TRUE(h.last_propagated().empty());
}

TEST_F(KeyspaceCommandsTest, ExpireInThePastDeletesAndPropagatesDel) {
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"expire", "k", "-1"}), Int(1));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "k"}}));
  EXPECT_EQ(h.Run({"exists", "k"}), Int(0));
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"pexpireat", "k", std::to_string(h.now_ms())}), Int(1));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "k"}}));
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"expireat", "k", "0"}), Int(1));
  EXPECT_EQ(h.leader().keyspace().size(), 0u);
}

TEST_F(KeyspaceCommandsTest, ExpireFlags) {
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"expire", "k", "100", "xx"}), Int(0));  // no TTL yet
  EXPECT_EQ(h.Run({"expire", "k", "100", "gt"}), Int(0));  // none counts as infinite
  EXPECT_EQ(h.Run({"expire", "k", "100", "lt"}), Int(1));
  EXPECT_EQ(h.Run({"expire", "k", "50", "nx"}), Int(0));
  EXPECT_EQ(h.Run({"expire", "k", "200", "XX"}), Int(1));
  EXPECT_EQ(h.Run({"expire", "k", "100", "gt"}), Int(0));
  EXPECT_EQ(h.Run({"expire", "k", "300", "gt"}), Int(1));
  EXPECT_EQ(h.Run({"expire", "k", "300", "lt"}), Int(0));
  EXPECT_EQ(h.Run({"expire", "k", "30", "xx", "lt"}), Int(1));
  EXPECT_EQ(h.Run({"ttl", "k"}), Int(30));
  h.Run({"persist", "k"});
  EXPECT_EQ(h.Run({"expire", "k", "30", "nx"}), Int(1));
}

TEST_F(KeyspaceCommandsTest, ExpireErrors) {
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"expire", "k", "10", "foo"}), Err("ERR Unsupported option foo"));
  EXPECT_EQ(h.Run({"expire", "k", "10", "nx", "xx"}),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible"));
  EXPECT_EQ(h.Run({"expire", "k", "10", "nx", "gt"}),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible"));
  EXPECT_EQ(h.Run({"expire", "k", "10", "gt", "lt"}),
            Err("ERR GT and LT options at the same time are not compatible"));
  // Options are checked before the number, as in Redis.
  EXPECT_EQ(h.Run({"expire", "k", "abc", "nx", "xx"}),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible"));
  EXPECT_EQ(h.Run({"expire", "k", "abc"}), Err("ERR value is not an integer or out of range"));
  EXPECT_EQ(h.Run({"expire", "k", "9223372036854775807"}),
            Err("ERR invalid expire time in 'expire' command"));
  EXPECT_EQ(h.Run({"pexpire", "k", "9223372036854775807"}),
            Err("ERR invalid expire time in 'pexpire' command"));
  EXPECT_EQ(h.Run({"expireat", "k", "9223372036854775807"}),
            Err("ERR invalid expire time in 'expireat' command"));
  EXPECT_EQ(h.Run({"ttl", "k"}), Int(-1));
  EXPECT_EQ(h.Run({"expire", "k"}), Err("ERR wrong number of arguments for 'expire' command"));
}

TEST_F(KeyspaceCommandsTest, TtlFamily) {
  EXPECT_EQ(h.Run({"ttl", "missing"}), Int(-2));
  EXPECT_EQ(h.Run({"pttl", "missing"}), Int(-2));
  EXPECT_EQ(h.Run({"expiretime", "missing"}), Int(-2));
  EXPECT_EQ(h.Run({"pexpiretime", "missing"}), Int(-2));
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"ttl", "k"}), Int(-1));
  EXPECT_EQ(h.Run({"expiretime", "k"}), Int(-1));
  h.Run({"pexpire", "k", "2600"});
  EXPECT_EQ(h.Run({"ttl", "k"}), Int(3));  // rounded, as Redis
  EXPECT_EQ(h.Run({"pttl", "k"}), Int(2600));
  EXPECT_EQ(h.Run({"pexpiretime", "k"}), Int(h.now_ms() + 2600));
  EXPECT_EQ(h.Run({"expiretime", "k"}), Int((h.now_ms() + 2600 + 500) / 1000));
  h.AdvanceClock(2599);
  EXPECT_EQ(h.Run({"pttl", "k"}), Int(1));
  h.AdvanceClock(1);
  EXPECT_EQ(h.Run({"pttl", "k"}), Int(-2));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "k"}}));
}

TEST_F(KeyspaceCommandsTest, Persist) {
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"persist", "k"}), Int(0));
  EXPECT_TRUE(h.last_propagated().empty());
  h.Run({"expire", "k", "10"});
  EXPECT_EQ(h.Run({"persist", "k"}), Int(1));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"persist", "k"}}));
  EXPECT_EQ(h.Run({"ttl", "k"}), Int(-1));
  EXPECT_EQ(h.Run({"persist", "missing"}), Int(0));
}

TEST_F(KeyspaceCommandsTest, LazyExpiryInEachMode) {
  h.Run({"hset", "k", "f", "v"});
  h.Run({"pexpire", "k", "100"});
  h.AdvanceClock(100);
  // Follower reads hide the key without deleting it.
  EXPECT_EQ(h.ReplicaRead({"hget", "k", "f"}), kNil);
  EXPECT_EQ(h.ReplicaRead({"exists", "k"}), Int(0));
  EXPECT_EQ(h.follower().keyspace().size(), 1u);
  // Applying a command never expires anything: the key is still there.
  Record r;
  r.now_ms = h.now_ms() + 1000;
  r.commands.push_back({"hset", "k", "g", "w"});
  StateMachine replay;
  replay.keyspace().Set("k", Object::NewHash());
  replay.keyspace().Find("k")->hash().Set("f", "v");
  replay.keyspace().SetExpire("k", 5);
  ASSERT_TRUE(replay.Apply(r).ok());
  EXPECT_EQ(replay.keyspace().Find("k")->hash().size(), 2u);
  // The leader deletes on access and logs a DEL before the command's effect.
  EXPECT_EQ(h.Run({"hset", "k", "g", "w"}), Int(1));
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"del", "k"}, {"hset", "k", "g", "w"}}));
  EXPECT_EQ(h.Run({"hlen", "k"}), Int(1));
  EXPECT_EQ(h.follower().keyspace().Find("k")->hash().size(), 1u);
}

TEST_F(KeyspaceCommandsTest, ObjectEncoding) {
  PutString("int", "12345");
  PutString("neg", "-5");
  PutString("notint", "012");
  PutString("embstr", std::string(44, 'a'));
  PutString("raw", std::string(45, 'a'));
  EXPECT_EQ(h.Run({"object", "encoding", "int"}), Bulk("int"));
  EXPECT_EQ(h.Run({"object", "encoding", "neg"}), Bulk("int"));
  EXPECT_EQ(h.Run({"object", "encoding", "notint"}), Bulk("embstr"));
  EXPECT_EQ(h.Run({"object", "encoding", "embstr"}), Bulk("embstr"));
  EXPECT_EQ(h.Run({"OBJECT", "ENCODING", "raw"}), Bulk("raw"));
  EXPECT_EQ(h.Run({"object", "encoding", "missing"}), kNil);
  h.Run({"hset", "h", "f", std::string(64, 'v')});
  EXPECT_EQ(h.Run({"object", "encoding", "h"}), Bulk("listpack"));
  h.Run({"hset", "h", "f", std::string(65, 'v')});
  EXPECT_EQ(h.Run({"object", "encoding", "h"}), Bulk("hashtable"));
  h.Run({"hset", "h", "f", "short"});
  EXPECT_EQ(h.Run({"object", "encoding", "h"}), Bulk("hashtable"));  // never back
  for (int i = 0; i < 128; ++i) h.Run({"hset", "big", "f" + std::to_string(i), "v"});
  EXPECT_EQ(h.Run({"object", "encoding", "big"}), Bulk("listpack"));
  h.Run({"hset", "big", "one-more", "v"});
  EXPECT_EQ(h.Run({"object", "encoding", "big"}), Bulk("hashtable"));
  h.Run({"hset", "longfield", std::string(65, 'f'), "v"});
  EXPECT_EQ(h.Run({"object", "encoding", "longfield"}), Bulk("hashtable"));
}

TEST_F(KeyspaceCommandsTest, ObjectOtherSubcommands) {
  h.Run({"hset", "k", "f", "v"});
  EXPECT_EQ(h.Run({"object", "refcount", "k"}), Int(1));
  h.AdvanceClock(5000);
  EXPECT_EQ(h.Run({"object", "idletime", "k"}), Int(5));
  EXPECT_EQ(h.Run({"object", "idletime", "k"}), Int(5));  // OBJECT does not touch
  h.Run({"hget", "k", "f"});
  EXPECT_EQ(h.Run({"object", "idletime", "k"}), Int(0));
  EXPECT_EQ(h.Run({"object", "freq", "k"}).substr(0, 40),
            "-ERR An LFU maxmemory policy is not sele");
  EXPECT_EQ(h.Run({"object", "foo", "k"}), Err("ERR unknown subcommand 'foo'. Try OBJECT HELP."));
  EXPECT_EQ(h.Run({"object", "encoding"}),
            Err("ERR wrong number of arguments for 'object|encoding' command"));
  std::string help = h.Run({"object", "help"});
  EXPECT_EQ(help.substr(0, 5), "*15\r\n");
  EXPECT_NE(help.find("+    Prints this help.\r\n"), std::string::npos);
}

TEST_F(KeyspaceCommandsTest, DbSizeAndFlush) {
  EXPECT_EQ(h.Run({"dbsize"}), Int(0));
  h.Run({"hset", "a", "f", "v"});
  h.Run({"hset", "b", "f", "v"});
  EXPECT_EQ(h.Run({"dbsize"}), Int(2));
  EXPECT_EQ(h.Run({"flushall", "foo"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"flushall", "async", "sync"}), Err("ERR syntax error"));
  EXPECT_EQ(h.Run({"flushdb", "ASYNC"}), kOk);
  EXPECT_EQ(h.last_propagated(), (std::vector<Argv>{{"flushall"}}));
  EXPECT_EQ(h.Run({"dbsize"}), Int(0));
  h.Run({"hset", "a", "f", "v"});
  EXPECT_EQ(h.Run({"flushall"}), kOk);
  EXPECT_EQ(h.follower().keyspace().size(), 0u);
}

}  // namespace
}  // namespace tandem::kv
