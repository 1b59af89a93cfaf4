// Tests for the bitmap command group, through the CommandHarness (which
// replays every propagated change on a follower and compares digests).
// Expected replies were checked against redis-server 7.0.15.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kv/command.h"
#include "kv/object.h"
#include "kv/testing/command_harness.h"
#include "kv/testing/reply_text.h"

namespace tandem::kv {
namespace {

using namespace testing;  // NOLINT: reply text helpers


const std::string kBadOffset = Err("ERR bit offset is not an integer or out of range");
const std::string kBadBit = Err("ERR bit is not an integer or out of range");

class BitCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // z = ff f0 00, y = 00 ff f0, ones = ff ff ff, zero = 00 00 00.
    ASSERT_EQ(
        h_.Run({"MSET", "z", std::string("\xff\xf0\x00", 3), "y", std::string("\x00\xff\xf0", 3),
                "ones", "\xff\xff\xff", "zero", std::string(3, '\0'), "s", "foobar", "e", ""}),
        kOk);
  }
  void MakeHash(std::string_view key) {
    for (StateMachine* sm : {&h_.leader(), &h_.follower()}) {
      sm->keyspace().Set(key, Object::NewHash()).hash().Set("f", "v");
    }
  }
  std::string Get(std::string_view key) { return h_.Run({"GET", key}); }
  const std::vector<Argv>& Propagated() { return h_.last_propagated(); }

  CommandHarness h_;
};

// ------------------------------------------------------------ SETBIT/GETBIT

TEST_F(BitCommandsTest, SetBitCreatesGrowsAndReturnsOldBit) {
  EXPECT_EQ(h_.Run({"SETBIT", "k", "7", "1"}), Int(0));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"setbit", "k", "7", "1"}}));
  EXPECT_EQ(Get("k"), Bulk("\x01"));
  EXPECT_EQ(h_.Run({"SETBIT", "k", "7", "1"}), Int(1));
  EXPECT_TRUE(Propagated().empty()) << "unchanged bit must not propagate";
  EXPECT_EQ(h_.Run({"SETBIT", "k", "0", "1"}), Int(0));
  EXPECT_EQ(Get("k"), Bulk("\x81"));
  EXPECT_EQ(h_.Run({"SETBIT", "k", "7", "0"}), Int(1));
  EXPECT_EQ(Get("k"), Bulk("\x80"));
  // Growing with a zero bit still changes the value (zero padding).
  EXPECT_EQ(h_.Run({"SETBIT", "k", "23", "0"}), Int(0));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"setbit", "k", "23", "0"}}));
  EXPECT_EQ(Get("k"), Bulk(std::string("\x80\x00\x00", 3)));
  // Creating a key with a zero bit.
  EXPECT_EQ(h_.Run({"SETBIT", "c", "0", "0"}), Int(0));
  EXPECT_EQ(Get("c"), Bulk(std::string(1, '\0')));
}

TEST_F(BitCommandsTest, SetBitKeepsTtl) {
  EXPECT_EQ(h_.Run({"SET", "t", "a", "EX", "10"}), kOk);
  EXPECT_EQ(h_.Run({"SETBIT", "t", "100", "1"}), Int(0));
  EXPECT_EQ(h_.leader().keyspace().GetExpire("t"), h_.now_ms() + 10'000);
}

TEST_F(BitCommandsTest, LargeOffsets) {
  // The largest offset is accepted (checked without allocating 512MB).
  EXPECT_EQ(h_.Run({"GETBIT", "z", "4294967295"}), Int(0));
  EXPECT_EQ(h_.Run({"GETBIT", "nokey", "4294967295"}), Int(0));
  // A 1MB bitmap with one bit set at the very end.
  EXPECT_EQ(h_.Run({"SETBIT", "n", "8388607", "1"}), Int(0));
  EXPECT_EQ(h_.Run({"STRLEN", "n"}), Int(1 << 20));
  EXPECT_EQ(h_.Run({"GETBIT", "n", "8388607"}), Int(1));
  EXPECT_EQ(h_.Run({"GETBIT", "n", "8388606"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "n"}), Int(1));
  EXPECT_EQ(h_.Run({"BITPOS", "n", "1"}), Int(8388607));
  EXPECT_EQ(h_.Run({"BITPOS", "n", "1", "3", "-2"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "n", "0", "-1"}), Int(8388600));
}

TEST_F(BitCommandsTest, SetBitErrors) {
  EXPECT_EQ(h_.Run({"SETBIT", "k", "4294967296", "1"}), kBadOffset);
  EXPECT_EQ(h_.Run({"SETBIT", "k", "-1", "1"}), kBadOffset);
  EXPECT_EQ(h_.Run({"SETBIT", "k", "x", "1"}), kBadOffset);
  EXPECT_EQ(h_.Run({"SETBIT", "k", "+1", "1"}), kBadOffset);
  EXPECT_EQ(h_.Run({"SETBIT", "k", "1", "2"}), kBadBit);
  EXPECT_EQ(h_.Run({"SETBIT", "k", "1", "-1"}), kBadBit);
  EXPECT_EQ(h_.Run({"SETBIT", "k", "1", "x"}), kBadBit);
  EXPECT_EQ(h_.leader().keyspace().Find("k"), nullptr);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"SETBIT", "h", "1", "1"}), kWrongType);
  // Argument errors come before the type check.
  EXPECT_EQ(h_.Run({"SETBIT", "h", "x", "1"}), kBadOffset);
  EXPECT_EQ(h_.Run({"SETBIT", "h", "1", "x"}), kBadBit);
}

TEST_F(BitCommandsTest, GetBit) {
  EXPECT_EQ(h_.Run({"GETBIT", "z", "0"}), Int(1));
  EXPECT_EQ(h_.Run({"GETBIT", "z", "11"}), Int(1));
  EXPECT_EQ(h_.Run({"GETBIT", "z", "12"}), Int(0));
  EXPECT_EQ(h_.Run({"GETBIT", "z", "1000"}), Int(0));
  EXPECT_EQ(h_.Run({"GETBIT", "nokey", "5"}), Int(0));
  EXPECT_EQ(h_.Run({"GETBIT", "nokey", "4294967296"}), kBadOffset);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"GETBIT", "h", "1"}), kWrongType);
  EXPECT_EQ(h_.Run({"GETBIT", "h", "x"}), kBadOffset);
  EXPECT_TRUE(Propagated().empty());
}

// ----------------------------------------------------------------- BITCOUNT

TEST_F(BitCommandsTest, BitCountRanges) {
  EXPECT_EQ(h_.Run({"BITCOUNT", "s"}), Int(26));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "0", "0"}), Int(4));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "1", "1"}), Int(6));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "1", "1", "byte"}), Int(6));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "5", "30", "BIT"}), Int(17));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "-5", "-1", "BIT"}), Int(2));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "0", "-1", "bit"}), Int(26));
  EXPECT_EQ(h_.Run({"BITCOUNT", "z", "0", "0", "BIT"}), Int(1));
  EXPECT_EQ(h_.Run({"BITCOUNT", "z", "3", "11", "BIT"}), Int(9));
  EXPECT_EQ(h_.Run({"BITCOUNT", "z", "-9", "-1", "BIT"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "z", "9223372036854775807", "-1"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "z", "-9223372036854775808", "9223372036854775807", "BIT"}),
            Int(12));
  EXPECT_EQ(h_.Run({"BITCOUNT", "y", "-2", "-2"}), Int(8));
  // Two negative indexes with start > end: empty, even after clamping.
  EXPECT_EQ(h_.Run({"BITCOUNT", "y", "-100", "-200"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "-1", "-2"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "e"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "e", "0", "-1"}), Int(0));
}

TEST_F(BitCommandsTest, BitCountErrorsAndRedisOrdering) {
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "0"}), kSyntax);
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "0", "1", "FOO"}), kSyntax);
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "0", "1", "BIT", "x"}), kSyntax);
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "a", "1"}), kNotInt);
  // The reversed-negatives shortcut is taken before the unit is checked.
  EXPECT_EQ(h_.Run({"BITCOUNT", "s", "-1", "-2", "FOO"}), Int(0));
  // A missing key answers 0 before any argument is looked at.
  EXPECT_EQ(h_.Run({"BITCOUNT", "nokey", "0"}), Int(0));
  EXPECT_EQ(h_.Run({"BITCOUNT", "nokey", "a", "b", "c", "d"}), Int(0));
  MakeHash("h");
  EXPECT_EQ(h_.Run({"BITCOUNT", "h"}), kWrongType);
  EXPECT_EQ(h_.Run({"BITCOUNT", "h", "0"}), kWrongType);
}

// ------------------------------------------------------------------- BITPOS

TEST_F(BitCommandsTest, BitPosWholeString) {
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0"}), Int(12));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "1"}), Int(0));
  EXPECT_EQ(h_.Run({"BITPOS", "zero", "1"}), Int(-1));
  // Clear bits past the end: without an explicit end the string counts as
  // zero padded, so the first clear bit is just past it.
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "0"}), Int(24));
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "0", "2"}), Int(24));
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "0", "-1"}), Int(24));
  EXPECT_EQ(h_.Run({"BITPOS", "e", "0"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "e", "1"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "nokey", "0"}), Int(0));
  EXPECT_EQ(h_.Run({"BITPOS", "nokey", "1"}), Int(-1));
}

TEST_F(BitCommandsTest, BitPosRanges) {
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "1"}), Int(12));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "2"}), Int(16));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "0", "0"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "7", "15", "BIT"}), Int(12));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "12", "15", "BIT"}), Int(12));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "1", "12", "15", "BIT"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "0", "-1", "BIT"}), Int(12));
  // BITPOS has no reversed-negatives shortcut: both clamp to byte 0.
  EXPECT_EQ(h_.Run({"BITPOS", "z", "1", "-100", "-200"}), Int(0));
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "-100", "-200"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "1", "0"}), Int(8));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "1", "2"}), Int(16));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "1", "2", "-1", "BYTE"}), Int(16));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "1", "7", "15", "BIT"}), Int(8));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "0", "8", "15", "BIT"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "0", "1", "1"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "y", "0", "1"}), Int(20));
  EXPECT_EQ(h_.Run({"BITPOS", "zero", "1", "7", "-3", "BIT"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "zero", "0", "5"}), Int(-1));
  // With an explicit end, clear bits past the range do not count.
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "0", "2", "2"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "0", "3"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "1", "3"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "0", "-1", "-1", "bit"}), Int(-1));
  EXPECT_EQ(h_.Run({"BITPOS", "ones", "1", "23", "23", "BIT"}), Int(23));
}

TEST_F(BitCommandsTest, BitPosErrorsAndRedisOrdering) {
  const std::string bad_bit = Err("ERR The bit argument must be 1 or 0.");
  EXPECT_EQ(h_.Run({"BITPOS", "z", "2"}), bad_bit);
  EXPECT_EQ(h_.Run({"BITPOS", "nokey", "2"}), bad_bit);
  EXPECT_EQ(h_.Run({"BITPOS", "nokey", "x"}), kNotInt);
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "a"}), kNotInt);
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "1", "b"}), kNotInt);
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "1", "2", "FOO"}), kSyntax);
  // The unit is checked before the end is parsed.
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "1", "b", "FOO"}), kSyntax);
  EXPECT_EQ(h_.Run({"BITPOS", "z", "0", "1", "2", "BIT", "x"}), kSyntax);
  // A missing key answers before the remaining arguments are checked.
  EXPECT_EQ(h_.Run({"BITPOS", "nokey", "0", "a", "b", "c", "d"}), Int(0));
  MakeHash("h");
  EXPECT_EQ(h_.Run({"BITPOS", "h", "0"}), kWrongType);
  EXPECT_EQ(h_.Run({"BITPOS", "h", "2"}), bad_bit);
}

// -------------------------------------------------------------------- BITOP

TEST_F(BitCommandsTest, BitOpOperations) {
  EXPECT_EQ(h_.Run({"MSET", "a", "\xff\x0f\x01", "b", "\x0f"}), kOk);
  EXPECT_EQ(h_.Run({"BITOP", "AND", "d", "a", "b"}), Int(3));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"bitop", "AND", "d", "a", "b"}}));
  EXPECT_EQ(Get("d"), Bulk(std::string("\x0f\x00\x00", 3)));
  EXPECT_EQ(h_.Run({"BITOP", "or", "d", "a", "b"}), Int(3));
  EXPECT_EQ(Get("d"), Bulk("\xff\x0f\x01"));
  EXPECT_EQ(h_.Run({"BITOP", "XOR", "d", "a", "b", "nokey"}), Int(3));
  EXPECT_EQ(Get("d"), Bulk("\xf0\x0f\x01"));
  EXPECT_EQ(h_.Run({"BITOP", "NOT", "d", "a"}), Int(3));
  EXPECT_EQ(Get("d"), Bulk(std::string("\x00\xf0\xfe", 3)));
  EXPECT_EQ(h_.Run({"BITOP", "AND", "d", "a", "nokey"}), Int(3));
  EXPECT_EQ(Get("d"), Bulk(std::string(3, '\0')));
  // The destination may be one of the sources.
  EXPECT_EQ(h_.Run({"BITOP", "XOR", "a", "a", "b"}), Int(3));
  EXPECT_EQ(Get("a"), Bulk("\xf0\x0f\x01"));
}

TEST_F(BitCommandsTest, BitOpOverwritesDestinationTypeAndTtl) {
  MakeHash("h");
  EXPECT_EQ(h_.Run({"BITOP", "OR", "h", "s"}), Int(6));
  EXPECT_EQ(Get("h"), Bulk("foobar"));
  EXPECT_EQ(h_.Run({"SET", "t", "x", "EX", "10"}), kOk);
  EXPECT_EQ(h_.Run({"BITOP", "OR", "t", "s"}), Int(6));
  EXPECT_EQ(h_.leader().keyspace().GetExpire("t"), kNoExpire);
}

TEST_F(BitCommandsTest, BitOpOfEmptySourcesDeletesDestination) {
  EXPECT_EQ(h_.Run({"BITOP", "AND", "d", "nokey"}), Int(0));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"BITOP", "NOT", "d", "e"}), Int(0));
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.Run({"BITOP", "AND", "s", "nokey", "e"}), Int(0));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"bitop", "AND", "s", "nokey", "e"}}));
  EXPECT_EQ(h_.leader().keyspace().Find("s"), nullptr);
}

TEST_F(BitCommandsTest, BitOpErrors) {
  EXPECT_EQ(h_.Run({"BITOP", "NOT", "d", "a", "b"}),
            Err("ERR BITOP NOT must be called with a single source key."));
  EXPECT_EQ(h_.Run({"BITOP", "FOO", "d", "a"}), kSyntax);
  EXPECT_EQ(h_.Run({"BITOP", "AN", "d", "a"}), kSyntax);
  MakeHash("h");
  EXPECT_EQ(h_.Run({"BITOP", "AND", "d", "s", "h"}), kWrongType);
  EXPECT_TRUE(Propagated().empty());
  EXPECT_EQ(h_.leader().keyspace().Find("d"), nullptr);
  EXPECT_EQ(h_.Run({"BITOP", "AND", "d"}),
            Err("ERR wrong number of arguments for 'bitop' command"));
}

TEST_F(BitCommandsTest, BitOpTreatsExpiredSourcesAsMissing) {
  EXPECT_EQ(h_.Run({"PSETEX", "x", "10", "abc"}), kOk);
  h_.AdvanceClock(10);
  EXPECT_EQ(h_.Run({"BITOP", "OR", "d", "x", "s"}), Int(6));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "x"}, {"bitop", "OR", "d", "x", "s"}}));
  EXPECT_EQ(Get("d"), Bulk("foobar"));
}

// ---------------------------------------------------------- modes and specs

TEST_F(BitCommandsTest, ReplicaReadHidesExpiredKeys) {
  EXPECT_EQ(h_.Run({"PSETEX", "x", "10", "\xff"}), kOk);
  EXPECT_EQ(h_.ReplicaRead({"GETBIT", "x", "0"}), Int(1));
  h_.AdvanceClock(10);
  EXPECT_EQ(h_.ReplicaRead({"GETBIT", "x", "0"}), Int(0));
  EXPECT_EQ(h_.ReplicaRead({"BITCOUNT", "x"}), Int(0));
  EXPECT_EQ(h_.ReplicaRead({"BITPOS", "x", "0"}), Int(0));
  EXPECT_EQ(h_.ReplicaRead({"SETBIT", "x", "0", "1"}),
            Err("READONLY You can't write against a read only replica."));
  EXPECT_NE(h_.follower().keyspace().Find("x"), nullptr);
}

TEST_F(BitCommandsTest, SetBitOnExpiredKeyStartsFresh) {
  EXPECT_EQ(h_.Run({"PSETEX", "x", "10", "\xff"}), kOk);
  h_.AdvanceClock(10);
  EXPECT_EQ(h_.Run({"SETBIT", "x", "15", "1"}), Int(0));
  EXPECT_EQ(Propagated(), (std::vector<Argv>{{"del", "x"}, {"setbit", "x", "15", "1"}}));
  EXPECT_EQ(Get("x"), Bulk(std::string("\x00\x01", 2)));
}

TEST_F(BitCommandsTest, CommandTableEntries) {
  ASSERT_EQ(BitCommands().size(), 5u);
  const CommandSpec* bitop = FindDataCommand("BITOP");
  ASSERT_NE(bitop, nullptr);
  EXPECT_EQ(bitop->arity, -4);
  EXPECT_EQ(bitop->first_key, 2);
  EXPECT_EQ(bitop->last_key, -1);
  EXPECT_EQ(bitop->flags, kCmdWrite | kCmdDenyOom);
  const CommandSpec* getbit = FindDataCommand("getbit");
  ASSERT_NE(getbit, nullptr);
  EXPECT_EQ(getbit->flags, kCmdReadOnly | kCmdFast);
  EXPECT_EQ(FindDataCommand("bitpos")->since, "2.8.7");
  for (const CommandSpec& spec : BitCommands()) EXPECT_EQ(spec.group, "bitmap") << spec.name;
}

}  // namespace
}  // namespace tandem::kv
