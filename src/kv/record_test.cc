#include "kv/record.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::kv {
namespace {

Record Sample() {
  Record r;
  r.now_ms = 1'700'000'000'123;
  r.commands.push_back({"del", "expired"});
  r.commands.push_back({"set", "k", std::string("bin\0ary", 7), "pxat", "1700000001000"});
  r.commands.push_back({"hset", "h", "", ""});
  return r;
}

TEST(RecordTest, RoundTrip) {
  Record r = Sample();
  Result<Record> back = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->now_ms, r.now_ms);
  EXPECT_EQ(back->commands, r.commands);
}

TEST(RecordTest, ViewPointsIntoTheBytesAndIsReusable) {
  std::string bytes = EncodeRecord(Sample());
  RecordView view;
  ASSERT_TRUE(DecodeRecordView(bytes, &view).ok());
  ASSERT_EQ(view.command_count(), 3u);
  EXPECT_EQ(view.now_ms, Sample().now_ms);
  auto set = view.command(1);
  ASSERT_EQ(set.size(), 5u);
  EXPECT_EQ(set[2], std::string_view("bin\0ary", 7));
  EXPECT_GE(set[2].data(), bytes.data());
  EXPECT_LT(set[2].data(), bytes.data() + bytes.size()) << "an argument was copied";
  // Decoding another record into the same view replaces what it held.
  Record one;
  one.commands.push_back({"del", "k"});
  std::string other = EncodeRecord(one);
  ASSERT_TRUE(DecodeRecordView(other, &view).ok());
  ASSERT_EQ(view.command_count(), 1u);
  EXPECT_EQ(view.command(0).size(), 2u);
  EXPECT_EQ(view.command(0)[1], "k");
  EXPECT_FALSE(DecodeRecordView(other.substr(0, other.size() - 1), &view).ok());
}

TEST(RecordTest, EmptyAndNegativeTime) {
  Record r;
  r.now_ms = -5;
  Result<Record> back = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->now_ms, -5);
  EXPECT_TRUE(back->commands.empty());
}

TEST(RecordTest, LayoutIsAsDocumented) {
  Record r;
  r.now_ms = 0x0102030405060708;
  r.commands.push_back({"del", "k"});
  std::string bytes = EncodeRecord(r);
  EXPECT_EQ(bytes, std::string("\x01\x08\x07\x06\x05\x04\x03\x02\x01\x01\x02\x03"
                               "del\x01k",
                               17));
}

TEST(RecordTest, EveryTruncationIsCorruption) {
  std::string bytes = EncodeRecord(Sample());
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<Record> r = DecodeRecord(std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_TRUE(r.status().IsCorruption());
  }
}

TEST(RecordTest, TrailingBytesAndBadVersionAreCorruption) {
  std::string bytes = EncodeRecord(Sample());
  EXPECT_TRUE(DecodeRecord(bytes + "x").status().IsCorruption());
  std::string bad = bytes;
  bad[0] = 2;
  EXPECT_TRUE(DecodeRecord(bad).status().IsCorruption());
}

TEST(RecordTest, HugeCountsDoNotAllocate) {
  std::string bytes = EncodeRecord(Record{});
  bytes.pop_back();  // drop the zero command count
  bytes += std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9);
  EXPECT_TRUE(DecodeRecord(bytes).status().IsCorruption());
  Record one;
  one.commands.push_back({"x"});
  std::string b = EncodeRecord(one);
  b[10] = '\x7f';  // argc far beyond the bytes left
  EXPECT_TRUE(DecodeRecord(b).status().IsCorruption());
  b[10] = 0;  // a command with no arguments
  EXPECT_TRUE(DecodeRecord(b).status().IsCorruption());
}

TEST(RecordTest, RandomByteFlipsNeverCrash) {
  std::string bytes = EncodeRecord(Sample());
  uint64_t x = 99;
  for (int i = 0; i < 5000; ++i) {
    std::string copy = bytes;
    x = x * 6364136223846793005ull + 1;
    copy[(x >> 33) % copy.size()] ^= static_cast<char>(1 + (x >> 20) % 255);
    Result<Record> r = DecodeRecord(copy);
    if (r.ok()) {
      Result<Record> again = DecodeRecord(EncodeRecord(*r));
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again->commands, r->commands);
    }
  }
}

}  // namespace
}  // namespace tandem::kv
