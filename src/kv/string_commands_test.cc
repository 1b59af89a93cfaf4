// Tests for the string command group. Every Run() goes through the
// CommandHarness, which also replays what the leader propagated on a
// follower and checks that both keyspaces stay identical. Expected replies
// and error texts were checked against redis-server 7.0.15.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kv/command.h"
#include "kv/object.h"
#include "kv/record.h"
#include "kv/testing/command_harness.h"
#include "kv/testing/reply_text.h"

namespace tandem::kv {
namespace {

using namespace testing;  // NOLINT: reply text helpers


const std::string kNotFloat = Err("ERR value is not a valid float");

class StringCommandsTest : public ::testing::Test {
 protected:
  // Puts a one-field hash under key on both nodes (a non-string value).
  void MakeHash(std::string_view key) {
    for (StateMachine* sm : {&h_.leader(), &h_.follower()}) {
      Object& o = sm->keyspace().Set(key, Object::NewHash());
      o.hash().Set("f", "v");
    }
  }
  int64_t ExpireOf(std::string_view key) { return h_.leader().keyspace().GetExpire(key); }
  const std::vector<Argv>& Propagated() { return h_.last_propagated(); }
  std::string Now(int64_t plus_ms = 0) { return std::to_string(h_.now_ms() + plus_ms); }

  CommandHarness h_;
};

// ----------------------------------------------------------------- GET/SET

TEST_F(StringCommandsTest, GetAndSetRoundTrip) {
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"SET", "k", "hello"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "hello"}}));
  EXPECT_EQ(h_.Run({"get", "k"}), Bulk("hello"));
  EXPECT_EQ(h_.Run({"SET", "k", ""}), kOk);
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk(""));
  MakeHash("h");
  EXPECT_EQ(h_.Run({"GET", "h"}), kWrongType);
}

TEST_F(StringCommandsTest, SetOverwritesOtherTypesAndDropsTtl) {
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SET", "h", "v"}), kOk);
  EXPECT_EQ(h_.Run({"GET", "h"}), Bulk("v"));
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "100"}), kOk);
  EXPECT_NE(ExpireOf("k"), kNoExpire);
  EXPECT_EQ(h_.Run({"SET", "k", "w"}), kOk);
  EXPECT_EQ(ExpireOf("k"), kNoExpire);
}

TEST_F(StringCommandsTest, SetRelativeExpiryPropagatesAbsolutePxat) {
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "10"}), kOk);
  EXPECT_EQ(ExpireOf("k"), h_.now_ms() + 10'000);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v", "pxat", Now(10'000)}}));
  EXPECT_EQ(h_.Run({"SET", "k", "v", "px", "1500"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v", "pxat", Now(1500)}}));
  const int64_t at_s = h_.now_ms() / 1000 + 50;
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EXAT", std::to_string(at_s)}), kOk);
  EXPECT_EQ(ExpireOf("k"), at_s * 1000);
  EXPECT_EQ(Propagated(),
            (std::vector<Argv>{{"set", "k", "v", "pxat", std::to_string(at_s * 1000)}}));
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PXAT", Now(7)}), kOk);
  EXPECT_EQ(ExpireOf("k"), h_.now_ms() + 7);
  // The last of repeated identical expiry options wins, as in Redis.
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "10", "EX", "20"}), kOk);
  EXPECT_EQ(ExpireOf("k"), h_.now_ms() + 20'000);
}

TEST_F(StringCommandsTest, SetExpiryIsEnforcedOnLeaderAndHiddenOnFollower) {
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PX", "100"}), kOk);
  h_.AdvanceClock(99);
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("v"));
  EXPECT_EQ(h_.ReplicaRead({"GET", "k"}), Bulk("v"));
  h_.AdvanceClock(1);
  // The follower hides the key but keeps it until the log says DEL.
  EXPECT_EQ(h_.ReplicaRead({"GET", "k"}), kNil);
  EXPECT_NE(h_.follower().keyspace().Find("k"), nullptr);
  // The leader erases it lazily and propagates the DEL.
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "k"}}));
  EXPECT_EQ(h_.follower().keyspace().Find("k"), nullptr);
}

TEST_F(StringCommandsTest, SetWithPastExpiryDeletesAndPropagatesDel) {
  EXPECT_EQ(h_.Run({"SET", "k", "old"}), kOk);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EXAT", "1"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "k"}}));
  EXPECT_EQ(h_.leader().keyspace().Find("k"), nullptr);
  // On a missing key nothing changes, so nothing is propagated.
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PXAT", Now()}), kOk);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
  // With GET the old value is still returned.
  EXPECT_EQ(h_.Run({"SET", "k", "old"}), kOk);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "GET", "PXAT", "5"}), Bulk("old"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "k"}}));
}

TEST_F(StringCommandsTest, SetNxXx) {
  EXPECT_EQ(h_.Run({"SET", "k", "v", "XX"}), kNil);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"SET", "k", "v", "NX"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v"}}));
  EXPECT_EQ(h_.Run({"SET", "k", "w", "NX"}), kNil);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"SET", "k", "w", "xx"}), kOk);
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("w"));
  EXPECT_EQ(h_.Run({"SET", "k", "v", "NX", "NX"}), kNil);
  // An expired key counts as absent for NX.
  EXPECT_EQ(h_.Run({"SET", "e", "v", "PX", "10"}), kOk);
  h_.AdvanceClock(10);
  EXPECT_EQ(h_.Run({"SET", "e", "new", "NX"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "e"}, {"set", "e", "new"}}));
}

TEST_F(StringCommandsTest, SetKeepTtl) {
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PX", "5000"}), kOk);
  const int64_t at = ExpireOf("k");
  EXPECT_EQ(h_.Run({"SET", "k", "w", "KEEPTTL"}), kOk);
  EXPECT_EQ(ExpireOf("k"), at);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "w", "keepttl"}}));
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("w"));
}

TEST_F(StringCommandsTest, SetGetOption) {
  EXPECT_EQ(h_.Run({"SET", "k", "v", "GET"}), kNil);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v"}}));
  EXPECT_EQ(h_.Run({"SET", "k", "w", "GET"}), Bulk("v"));
  EXPECT_EQ(h_.Run({"SET", "k", "x", "NX", "GET"}), Bulk("w"));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"SET", "n", "x", "XX", "GET"}), kNil);
  EXPECT_EQ(h_.Run({"GET", "n"}), kNil);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SET", "h", "v", "GET"}), kWrongType);
  EXPECT_TRUE(Propagated().empty());
}

TEST_F(StringCommandsTest, SetOptionErrors) {
  EXPECT_EQ(h_.Run({"SET", "k", "v", "NX", "XX"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "XX", "NX"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "KEEPTTL", "EX", "1"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "1", "KEEPTTL"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "1", "PX", "1"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EXAT", "1", "PXAT", "1"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PERSIST"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "BOGUS"}), kSyntax);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "abc"}), kNotInt);
  const std::string invalid = Err("ERR invalid expire time in 'set' command");
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "0"}), invalid);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PX", "-1"}), invalid);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "9223372036854775807"}), invalid);
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PX", "9223372036854775807"}), invalid);
  // Expiry errors come before the GET option's type check.
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SET", "h", "v", "GET", "EX", "0"}), invalid);
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
  EXPECT_EQ(h_.Run({"SET", "k"}), Err("ERR wrong number of arguments for 'set' command"));
  // The largest absolute time is accepted.
  EXPECT_EQ(h_.Run({"SET", "k", "v", "PXAT", "9223372036854775807"}), kOk);
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("v"));
}

TEST_F(StringCommandsTest, SetNx) {
  EXPECT_EQ(h_.Run({"SETNX", "k", "v"}), Int(1));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v"}}));
  EXPECT_EQ(h_.Run({"SETNX", "k", "w"}), Int(0));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("v"));
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SETNX", "h", "w"}), Int(0));
}

TEST_F(StringCommandsTest, SetExAndPSetEx) {
  EXPECT_EQ(h_.Run({"SETEX", "k", "10", "v"}), kOk);
  EXPECT_EQ(ExpireOf("k"), h_.now_ms() + 10'000);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v", "pxat", Now(10'000)}}));
  EXPECT_EQ(h_.Run({"PSETEX", "k", "250", "w"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "w", "pxat", Now(250)}}));
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("w"));
  h_.AdvanceClock(250);
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
  EXPECT_EQ(h_.Run({"SETEX", "k", "0", "v"}), Err("ERR invalid expire time in 'setex' command"));
  EXPECT_EQ(h_.Run({"PSETEX", "k", "-5", "v"}), Err("ERR invalid expire time in 'psetex' command"));
  EXPECT_EQ(h_.Run({"SETEX", "k", "x", "v"}), kNotInt);
  EXPECT_EQ(h_.Run({"SETEX", "k", "9223372036854775", "v"}),
            Err("ERR invalid expire time in 'setex' command"));
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SETEX", "h", "5", "v"}), kOk);
  EXPECT_EQ(h_.Run({"GET", "h"}), Bulk("v"));
}

TEST_F(StringCommandsTest, MGetMSetMSetNx) {
  MakeHash("h");
  EXPECT_EQ(h_.Run({"MSET", "a", "1", "b", "2", "a", "3"}), kOk);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"mset", "a", "1", "b", "2", "a", "3"}}));
  EXPECT_EQ(h_.Run({"MGET", "a", "b", "missing", "h"}),
            "*4\r\n" + Bulk("3") + Bulk("2") + kNil + kNil);
  EXPECT_EQ(h_.Run({"MSET", "a"}), Err("ERR wrong number of arguments for 'mset' command"));
  EXPECT_EQ(h_.Run({"MSET", "a", "1", "b"}),
            Err("ERR wrong number of arguments for 'mset' command"));
  EXPECT_EQ(h_.Run({"MSETNX", "a", "1", "b"}),
            Err("ERR wrong number of arguments for 'msetnx' command"));
  EXPECT_EQ(h_.Run({"MSETNX", "c", "1", "a", "9"}), Int(0));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"GET", "c"}), kNil);
  EXPECT_EQ(h_.Run({"MSETNX", "c", "1", "d", "2"}), Int(1));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"mset", "c", "1", "d", "2"}}));
  EXPECT_EQ(h_.Run({"MGET", "c", "d"}), "*2\r\n" + Bulk("1") + Bulk("2"));
  // MSET overwrites other types and clears TTLs.
  EXPECT_EQ(h_.Run({"SET", "t", "v", "EX", "5"}), kOk);
  EXPECT_EQ(h_.Run({"MSET", "h", "x", "t", "y"}), kOk);
  EXPECT_EQ(h_.Run({"GET", "h"}), Bulk("x"));
  EXPECT_EQ(ExpireOf("t"), kNoExpire);
}

TEST_F(StringCommandsTest, MSetNxTreatsExpiredKeysAsAbsent) {
  EXPECT_EQ(h_.Run({"SET", "a", "v", "PX", "5"}), kOk);
  h_.AdvanceClock(5);
  EXPECT_EQ(h_.Run({"MSETNX", "a", "1"}), Int(1));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "a"}, {"mset", "a", "1"}}));
}

// ------------------------------------------------------ GETSET/GETDEL/GETEX

TEST_F(StringCommandsTest, GetSet) {
  EXPECT_EQ(h_.Run({"GETSET", "k", "v"}), kNil);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "k", "v"}}));
  EXPECT_EQ(h_.Run({"SET", "k", "v", "EX", "100"}), kOk);
  EXPECT_EQ(h_.Run({"GETSET", "k", "w"}), Bulk("v"));
  EXPECT_EQ(ExpireOf("k"), kNoExpire);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"GETSET", "h", "w"}), kWrongType);
  EXPECT_TRUE(Propagated().empty());
}

TEST_F(StringCommandsTest, GetDel) {
  EXPECT_EQ(h_.Run({"GETDEL", "k"}), kNil);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"SET", "k", "v"}), kOk);
  EXPECT_EQ(h_.Run({"GETDEL", "k"}), Bulk("v"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "k"}}));
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"GETDEL", "h"}), kWrongType);
  EXPECT_NE(h_.leader().keyspace().Find("h"), nullptr);
}

TEST_F(StringCommandsTest, GetExSetsAbsoluteExpiry) {
  EXPECT_EQ(h_.Run({"SET", "k", "v"}), kOk);
  EXPECT_EQ(h_.Run({"GETEX", "k"}), Bulk("v"));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"GETEX", "k", "EX", "10"}), Bulk("v"));
  EXPECT_EQ(ExpireOf("k"), h_.now_ms() + 10'000);
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"pexpireat", "k", Now(10'000)}}));
  EXPECT_EQ(h_.Run({"GETEX", "k", "PX", "20"}), Bulk("v"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"pexpireat", "k", Now(20)}}));
  EXPECT_EQ(h_.Run({"GETEX", "k", "EXAT", std::to_string(h_.now_ms() / 1000 + 100)}), Bulk("v"));
  EXPECT_EQ(ExpireOf("k"), (h_.now_ms() / 1000 + 100) * 1000);
  EXPECT_EQ(h_.Run({"GETEX", "k", "PXAT", Now(30)}), Bulk("v"));
  EXPECT_EQ(ExpireOf("k"), h_.now_ms() + 30);
  EXPECT_EQ(h_.Run({"GETEX", "k", "PERSIST"}), Bulk("v"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"persist", "k"}}));
  EXPECT_EQ(ExpireOf("k"), kNoExpire);
  // PERSIST on a key without a TTL changes nothing.
  EXPECT_EQ(h_.Run({"GETEX", "k", "PERSIST"}), Bulk("v"));
  EXPECT_TRUE(Propagated().empty());
}

TEST_F(StringCommandsTest, GetExWithPastTimeDeletes) {
  EXPECT_EQ(h_.Run({"SET", "k", "v"}), kOk);
  EXPECT_EQ(h_.Run({"GETEX", "k", "PXAT", Now()}), Bulk("v"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "k"}}));
  EXPECT_EQ(h_.Run({"GET", "k"}), kNil);
}

TEST_F(StringCommandsTest, GetExErrors) {
  EXPECT_EQ(h_.Run({"SET", "k", "v"}), kOk);
  EXPECT_EQ(h_.Run({"GETEX", "k", "KEEPTTL"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "k", "NX"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "k", "GET"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "k", "PERSIST", "EX", "10"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "k", "EX", "10", "PERSIST"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "k", "EX"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "nokey", "FOO"}), kSyntax);
  EXPECT_EQ(h_.Run({"GETEX", "k", "EX", "-5"}), Err("ERR invalid expire time in 'getex' command"));
  EXPECT_EQ(h_.Run({"GETEX", "k", "EX", "x"}), kNotInt);
  EXPECT_EQ(ExpireOf("k"), kNoExpire);
  // A bad expiry on a missing key is not even looked at (Redis order).
  EXPECT_EQ(h_.Run({"GETEX", "nokey", "EX", "-5"}), kNil);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"GETEX", "h", "EX", "1"}), kWrongType);
}

// ------------------------------------------------------- APPEND/STRLEN/ranges

TEST_F(StringCommandsTest, AppendAndStrlen) {
  EXPECT_EQ(h_.Run({"STRLEN", "k"}), Int(0));
  EXPECT_EQ(h_.Run({"APPEND", "k", "Hello"}), Int(5));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"append", "k", "Hello"}}));
  EXPECT_EQ(h_.Run({"APPEND", "k", " World"}), Int(11));
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("Hello World"));
  EXPECT_EQ(h_.Run({"STRLEN", "k"}), Int(11));
  EXPECT_EQ(h_.Run({"APPEND", "k", ""}), Int(11));
  EXPECT_TRUE(Propagated().empty());
  // Appending nothing to a missing key still creates it, as in Redis.
  EXPECT_EQ(h_.Run({"APPEND", "e", ""}), Int(0));
  EXPECT_NE(h_.leader().keyspace().Find("e"), nullptr);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"APPEND", "h", "x"}), kWrongType);
  EXPECT_EQ(h_.Run({"STRLEN", "h"}), kWrongType);
  // APPEND keeps the TTL.
  EXPECT_EQ(h_.Run({"SET", "t", "a", "EX", "9"}), kOk);
  EXPECT_EQ(h_.Run({"APPEND", "t", "b"}), Int(2));
  EXPECT_EQ(ExpireOf("t"), h_.now_ms() + 9000);
}

TEST_F(StringCommandsTest, GetRange) {
  EXPECT_EQ(h_.Run({"SET", "s", "Hello World"}), kOk);
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "0", "4"}), Bulk("Hello"));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "-3", "-1"}), Bulk("rld"));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "0", "-1"}), Bulk("Hello World"));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "5", "3"}), Bulk(""));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "-1", "-5"}), Bulk(""));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "-100", "100"}), Bulk("Hello World"));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "-100", "-200"}), Bulk(""));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "10", "9223372036854775807"}), Bulk("d"));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "11", "20"}), Bulk(""));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "-9223372036854775808", "0"}), Bulk("H"));
  EXPECT_EQ(h_.Run({"SUBSTR", "s", "6", "-1"}), Bulk("World"));
  EXPECT_EQ(h_.Run({"GETRANGE", "nokey", "0", "1"}), Bulk(""));
  EXPECT_EQ(h_.Run({"SET", "e", ""}), kOk);
  EXPECT_EQ(h_.Run({"GETRANGE", "e", "0", "-1"}), Bulk(""));
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "a", "1"}), kNotInt);
  EXPECT_EQ(h_.Run({"GETRANGE", "s", "0", "1.5"}), kNotInt);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"GETRANGE", "h", "0", "1"}), kWrongType);
  // Argument errors come before the type check.
  EXPECT_EQ(h_.Run({"GETRANGE", "h", "a", "1"}), kNotInt);
}

TEST_F(StringCommandsTest, SetRange) {
  EXPECT_EQ(h_.Run({"SET", "k", "Hello World"}), kOk);
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "6", "Redis"}), Int(11));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"setrange", "k", "6", "Redis"}}));
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("Hello Redis"));
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "9", "xyz"}), Int(12));
  EXPECT_EQ(h_.Run({"GET", "k"}), Bulk("Hello Redxyz"));
  // Zero padding on a missing key.
  EXPECT_EQ(h_.Run({"SETRANGE", "z", "3", "ab"}), Int(5));
  EXPECT_EQ(h_.Run({"GET", "z"}), Bulk(std::string("\0\0\0ab", 5)));
  // An empty value changes nothing and creates nothing.
  EXPECT_EQ(h_.Run({"SETRANGE", "nokey", "0", ""}), Int(0));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.leader().keyspace().Find("nokey"), nullptr);
  EXPECT_EQ(h_.Run({"SETRANGE", "nokey", "536870912", ""}), Int(0));
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "100", ""}), Int(12));
  EXPECT_TRUE(Propagated().empty());
}

TEST_F(StringCommandsTest, SetRangeErrors) {
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "-1", "x"}), Err("ERR offset is out of range"));
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "x", "x"}), kNotInt);
  const std::string too_long = Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "536870912", "x"}), too_long);
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "536870911", "xy"}), too_long);
  EXPECT_EQ(h_.Run({"SETRANGE", "k", "9223372036854775807", "x"}), too_long);
  EXPECT_EQ(h_.leader().keyspace().Find("k"), nullptr);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SETRANGE", "h", "0", ""}), kWrongType);
  EXPECT_EQ(h_.Run({"SETRANGE", "h", "0", "x"}), kWrongType);
}

// ------------------------------------------------------------------ counters

TEST_F(StringCommandsTest, IncrDecrFamily) {
  EXPECT_EQ(h_.Run({"INCR", "n"}), Int(1));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"incr", "n"}}));
  EXPECT_EQ(h_.Run({"INCRBY", "n", "41"}), Int(42));
  EXPECT_EQ(h_.Run({"DECR", "n"}), Int(41));
  EXPECT_EQ(h_.Run({"DECRBY", "n", "50"}), Int(-9));
  EXPECT_EQ(h_.Run({"DECRBY", "n", "-9"}), Int(0));
  EXPECT_EQ(h_.Run({"GET", "n"}), Bulk("0"));
  EXPECT_EQ(h_.Run({"DECR", "m"}), Int(-1));
  EXPECT_EQ(h_.Run({"INCRBY", "n", "-9223372036854775808"}), Int(INT64_MIN));
  // Counters keep the TTL.
  EXPECT_EQ(h_.Run({"SET", "t", "5", "EX", "9"}), kOk);
  EXPECT_EQ(h_.Run({"INCR", "t"}), Int(6));
  EXPECT_EQ(ExpireOf("t"), h_.now_ms() + 9000);
}

TEST_F(StringCommandsTest, IncrOverflowAndBadValues) {
  const std::string overflow = Err("ERR increment or decrement would overflow");
  EXPECT_EQ(h_.Run({"SET", "n", "9223372036854775807"}), kOk);
  EXPECT_EQ(h_.Run({"INCR", "n"}), overflow);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"SET", "n", "10"}), kOk);
  EXPECT_EQ(h_.Run({"INCRBY", "n", "9223372036854775807"}), overflow);
  EXPECT_EQ(h_.Run({"DECRBY", "n", "-9223372036854775808"}), Err("ERR decrement would overflow"));
  EXPECT_EQ(h_.Run({"DECRBY", "n", "9223372036854775807"}), Int(-9223372036854775797));
  EXPECT_EQ(h_.Run({"DECRBY", "n", "100"}), overflow);
  EXPECT_EQ(h_.Run({"SET", "n", "-9223372036854775808"}), kOk);
  EXPECT_EQ(h_.Run({"DECR", "n"}), overflow);
  for (const char* bad : {"-0", " 1", "+1", "01", "1.0", "abc", "", "99999999999999999999"}) {
    EXPECT_EQ(h_.Run({"SET", "b", bad}), kOk);
    EXPECT_EQ(h_.Run({"INCR", "b"}), kNotInt) << "value '" << bad << "'";
  }
  EXPECT_EQ(h_.Run({"INCRBY", "x", "+1"}), kNotInt);
  EXPECT_EQ(h_.Run({"INCRBY", "x", "1.5"}), kNotInt);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"INCR", "h"}), kWrongType);
  // The increment is parsed before the key's type is checked.
  EXPECT_EQ(h_.Run({"INCRBY", "h", "x"}), kNotInt);
  EXPECT_EQ(h_.Run({"DECRBY", "h", "1"}), kWrongType);
}

TEST_F(StringCommandsTest, IncrByFloat) {
  EXPECT_EQ(h_.Run({"SET", "f", "10.5"}), kOk);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "0.1"}), Bulk("10.6"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "f", "10.6", "keepttl"}}));
  // Long double rounding shows through the 17 decimals, exactly as in Redis.
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "1e3"}), Bulk("1010.59999999999999998"));
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "-5010.6"}), Bulk("-4000"));
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "1.0e-20"}), Bulk("-4000"));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"set", "f", "-4000", "keepttl"}}));
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "g", "0x10"}), Bulk("16"));
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "g3", "1.5e-5"}), Bulk("0.000015"));
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "g4", "-0.0"}), Bulk("0"));
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "g5", "5.0e3"}), Bulk("5000"));
  EXPECT_EQ(h_.Run({"SET", "p", "3.0000000000000000001"}), kOk);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "p", "0"}), Bulk("3"));
  // An integer value works too, and the TTL is kept.
  EXPECT_EQ(h_.Run({"SET", "t", "5", "PX", "700"}), kOk);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "t", "0.25"}), Bulk("5.25"));
  EXPECT_EQ(ExpireOf("t"), h_.now_ms() + 700);
  EXPECT_EQ(h_.Run({"GET", "t"}), Bulk("5.25"));
}

TEST_F(StringCommandsTest, IncrByFloatErrors) {
  EXPECT_EQ(h_.Run({"SET", "f", "1"}), kOk);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "inf"}),
            Err("ERR increment would produce NaN or Infinity"));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "nan"}), kNotFloat);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", " 1"}), kNotFloat);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "abc"}), kNotFloat);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "1e4933"}), kNotFloat);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", ""}), kNotFloat);
  EXPECT_EQ(h_.Run({"SET", "f", "abc"}), kOk);
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "f", "1"}), kNotFloat);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"INCRBYFLOAT", "h", "abc"}), kWrongType);
  EXPECT_EQ(h_.Run({"GET", "f"}), Bulk("abc"));
}

TEST_F(StringCommandsTest, IncrByFloatBeyondDoubleRangeStaysFinite) {
  // Long double arithmetic: 2e308 is finite, as in Redis on x86-64, and the
  // "human" format prints every integer digit (prefixes from Redis 7.0).
  std::string first = h_.Run({"INCRBYFLOAT", "g", "1e308"});
  EXPECT_EQ(first.substr(0, 26), "$308\r\n99999999999999999996");
  std::string second = h_.Run({"INCRBYFLOAT", "g", "1e308"});
  EXPECT_EQ(second.substr(0, 26), "$309\r\n19999999999999999999");
}

// ----------------------------------------------------------------------- LCS

TEST_F(StringCommandsTest, Lcs) {
  EXPECT_EQ(h_.Run({"MSET", "a", "ohmytext", "b", "mynewtext"}), kOk);
  EXPECT_EQ(h_.Run({"LCS", "a", "b"}), Bulk("mytext"));
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "LEN"}), Int(6));
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "IDX"}),
            "*4\r\n" + Bulk("matches") + "*2\r\n" +             //
                "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n" +  // text
                "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n" +  // my
                Bulk("len") + Int(6));
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"}),
            "*4\r\n" + Bulk("matches") + "*1\r\n" +
                "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n" + Bulk("len") + Int(6));
  // A negative minimum counts as zero.
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "IDX", "MINMATCHLEN", "-4"}),
            h_.Run({"LCS", "a", "b", "IDX"}));
  EXPECT_EQ(h_.Run({"LCS", "nokey", "nokey2"}), Bulk(""));
  EXPECT_EQ(h_.Run({"LCS", "a", "nokey", "LEN"}), Int(0));
  EXPECT_EQ(h_.Run({"LCS", "nokey", "nokey2", "IDX"}),
            "*4\r\n" + Bulk("matches") + "*0\r\n" + Bulk("len") + Int(0));
  EXPECT_EQ(h_.Run({"LCS", "a", "a"}), Bulk("ohmytext"));
  EXPECT_TRUE(Propagated().empty());
}

TEST_F(StringCommandsTest, LcsResp3UsesAMap) {
  h_.SetProtocol(resp::Protocol::kResp3);
  EXPECT_EQ(h_.Run({"MSET", "a", "ab", "b", "xab"}), kOk);
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "IDX", "WITHMATCHLEN"}),
            "%2\r\n" + Bulk("matches") + "*1\r\n*3\r\n*2\r\n:0\r\n:1\r\n*2\r\n:1\r\n:2\r\n:2\r\n" +
                Bulk("len") + Int(2));
  EXPECT_EQ(h_.Run({"GET", "missing"}), "_\r\n");
}

TEST_F(StringCommandsTest, LcsErrors) {
  EXPECT_EQ(h_.Run({"MSET", "a", "x", "b", "y"}), kOk);
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "IDX", "LEN"}),
            Err("ERR If you want both the length and indexes, please just use IDX."));
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "FOO"}), kSyntax);
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "MINMATCHLEN"}), kSyntax);
  EXPECT_EQ(h_.Run({"LCS", "a", "b", "MINMATCHLEN", "x"}), kNotInt);
  MakeHash("h");
  const std::string not_strings = Err("ERR The specified keys must contain string values");
  EXPECT_EQ(h_.Run({"LCS", "h", "b"}), not_strings);
  EXPECT_EQ(h_.Run({"LCS", "a", "h", "FOO"}), not_strings);
  // A table over the 512MB limit is refused instead of allocated.
  std::string big(12000, 'x');
  EXPECT_EQ(h_.Run({"MSET", "big1", big, "big2", big}), kOk);
  EXPECT_EQ(h_.Run({"LCS", "big1", "big2", "LEN"}),
            Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
}

// ---------------------------------------------------------- modes and specs

TEST_F(StringCommandsTest, ReplicaReadHidesExpiredKeysForEveryRead) {
  EXPECT_EQ(h_.Run({"MSET", "a", "x", "b", "y"}), kOk);
  EXPECT_EQ(h_.Run({"PSETEX", "a", "10", "x"}), kOk);
  h_.AdvanceClock(10);
  EXPECT_EQ(h_.ReplicaRead({"MGET", "a", "b"}), "*2\r\n" + kNil + Bulk("y"));
  EXPECT_EQ(h_.ReplicaRead({"STRLEN", "a"}), Int(0));
  EXPECT_EQ(h_.ReplicaRead({"GETRANGE", "a", "0", "-1"}), Bulk(""));
  EXPECT_EQ(h_.ReplicaRead({"LCS", "a", "b"}), Bulk(""));
  EXPECT_EQ(h_.ReplicaRead({"SET", "a", "z"}),
            Err("READONLY You can't write against a read only replica."));
  EXPECT_NE(h_.follower().keyspace().Find("a"), nullptr);
}

TEST_F(StringCommandsTest, ApplyModeNeverExpiresKeys) {
  // A follower applying a logged command after the key's expiry still sees
  // the key: only a logged DEL removes it.
  EXPECT_EQ(h_.Run({"SET", "n", "5", "PX", "10"}), kOk);
  StateMachine& follower = h_.follower();
  Record record;
  record.now_ms = h_.now_ms() + 1000;
  record.commands = {{"incr", "n"}, {"append", "n", "0"}};
  ASSERT_TRUE(follower.Apply(record).ok());
  const Object* n = follower.keyspace().Find("n");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->str(), "60");
  // A SET ... PXAT in the past is stored as is in apply mode.
  record.commands = {{"set", "p", "v", "pxat", "5"}};
  ASSERT_TRUE(follower.Apply(record).ok());
  EXPECT_EQ(follower.keyspace().GetExpire("p"), 5);
}

TEST_F(StringCommandsTest, CommandTableEntries) {
  const CommandSpec* set = FindDataCommand("SET");
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->arity, -3);
  EXPECT_EQ(set->flags, kCmdWrite | kCmdDenyOom);
  EXPECT_EQ(set->group, "string");
  const CommandSpec* mset = FindDataCommand("mset");
  ASSERT_NE(mset, nullptr);
  EXPECT_EQ(mset->first_key, 1);
  EXPECT_EQ(mset->last_key, -1);
  EXPECT_EQ(mset->key_step, 2);
  const CommandSpec* lcs = FindDataCommand("lcs");
  ASSERT_NE(lcs, nullptr);
  EXPECT_EQ(lcs->last_key, 2);
  EXPECT_EQ(lcs->since, "7.0.0");
  for (const CommandSpec& spec : StringCommands()) {
    EXPECT_NE(spec.handler, nullptr) << spec.name;
    EXPECT_FALSE(spec.summary.empty()) << spec.name;
    EXPECT_EQ(spec.group, "string") << spec.name;
    EXPECT_NE((spec.flags & kCmdWrite) != 0, (spec.flags & kCmdReadOnly) != 0) << spec.name;
  }
  EXPECT_EQ(StringCommands().size(), 22u);
}

}  // namespace
}  // namespace tandem::kv
