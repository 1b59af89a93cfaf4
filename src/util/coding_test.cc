#include "util/coding.h"

#include <gtest/gtest.h>

#include "util/checksum.h"

namespace tandem {
namespace {

TEST(Coding, VarintRoundTrip) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 32, ~0ull}) {
    std::string buf;
    PutVarint64(&buf, v);
    std::string_view in = buf;
    uint64_t out = 0;
    ASSERT_TRUE(GetVarint64(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
  }
}

TEST(Coding, TruncatedVarintFails) {
  std::string buf;
  PutVarint64(&buf, 1ull << 40);
  std::string_view in(buf.data(), buf.size() - 1);
  uint64_t out;
  EXPECT_FALSE(GetVarint64(&in, &out));
}

TEST(Coding, LengthPrefixedRejectsOverlongLength) {
  std::string buf;
  PutVarint64(&buf, 10);
  buf += "abc";
  std::string_view in = buf, out;
  EXPECT_FALSE(GetLengthPrefixed(&in, &out));
}

TEST(Checksum, StreamingEqualsOneShot) {
  StreamingChecksum s;
  s.Update("hello ");
  s.Update("world");
  EXPECT_EQ(s.Digest(), Checksum64("hello world"));
  EXPECT_NE(Checksum64("hello world"), Checksum64("hello worle"));
}

}  // namespace
}  // namespace tandem
