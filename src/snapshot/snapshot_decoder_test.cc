#include "snapshot/snapshot_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "util/coding.h"
#include "util/checksum.h"

namespace tandem::snapshot {
namespace {

// A snapshot file's bytes, built with the format's own encoders.
std::string SnapshotBytes(const SnapshotMeta& meta, const std::vector<std::string>& entries) {
  std::string out;
  EncodeSnapshotHeader(meta, &out);
  for (const std::string& e : entries) AppendSnapshotEntry(e, &out);
  PutFixed32(&out, kTrailerMarker);
  PutFixed32(&out, 0);
  PutFixed64(&out, entries.size());
  PutFixed64(&out, Checksum64(out));
  return out;
}

std::vector<std::string> Entries(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("entry-" + std::to_string(i) + std::string(i % 300, 'x'));
  return out;
}

struct Decoded {
  Status status;
  bool header = false;
  bool done = false;
  std::vector<std::string> entries;
};

// Feeds `bytes` in pieces of random sizes up to max_piece, decoding after
// each piece as far as it goes.
Decoded FeedInPieces(const std::string& bytes, size_t max_piece, uint32_t seed) {
  std::mt19937 rng(seed);
  SnapshotDecoder decoder("test");
  Decoded out;
  size_t at = 0;
  while (at < bytes.size() && out.status.ok() && !out.done) {
    size_t n = std::min(bytes.size() - at, 1 + rng() % max_piece);
    decoder.Append(std::string_view(bytes).substr(at, n));
    at += n;
    for (;;) {
      std::string_view entry;
      SnapshotDecoder::Step step;
      out.status = decoder.Next(&entry, &step);
      if (!out.status.ok() || step == SnapshotDecoder::Step::kNeedMore) break;
      if (step == SnapshotDecoder::Step::kHeader) out.header = true;
      if (step == SnapshotDecoder::Step::kEntry) out.entries.emplace_back(entry);
      if (step == SnapshotDecoder::Step::kDone) {
        out.done = true;
        break;
      }
    }
  }
  return out;
}

TEST(SnapshotDecoderTest, DecodesWhateverTheBytesAreCutInto) {
  SnapshotMeta meta{77, 5, 1'700'000'000'000, std::string(3000, 'M')};
  std::vector<std::string> entries = Entries(500);
  std::string bytes = SnapshotBytes(meta, entries);
  for (size_t max_piece : {size_t{1}, size_t{7}, size_t{100}, size_t{4096}, bytes.size()}) {
    Decoded d = FeedInPieces(bytes, max_piece, static_cast<uint32_t>(max_piece));
    ASSERT_TRUE(d.status.ok()) << max_piece << ": " << d.status.ToString();
    EXPECT_TRUE(d.header);
    EXPECT_TRUE(d.done) << max_piece;
    EXPECT_EQ(d.entries, entries) << max_piece;
  }
}

TEST(SnapshotDecoderTest, HeaderFirstThenNeedMoreUntilTheBytesCome) {
  SnapshotMeta meta{9, 2, 1, "membership"};
  std::string bytes = SnapshotBytes(meta, {"a", "bb"});
  SnapshotDecoder decoder("test");
  std::string_view entry;
  SnapshotDecoder::Step step;
  ASSERT_TRUE(decoder.Next(&entry, &step).ok());
  EXPECT_EQ(step, SnapshotDecoder::Step::kNeedMore);
  EXPECT_GE(decoder.need(), 1u);
  decoder.Append(bytes);
  ASSERT_TRUE(decoder.Next(&entry, &step).ok());
  ASSERT_EQ(step, SnapshotDecoder::Step::kHeader);
  EXPECT_EQ(decoder.meta().last_index, 9u);
  EXPECT_EQ(decoder.meta().last_term, 2u);
  EXPECT_EQ(decoder.meta().metadata, "membership");
  ASSERT_TRUE(decoder.Next(&entry, &step).ok());
  ASSERT_EQ(step, SnapshotDecoder::Step::kEntry);
  EXPECT_EQ(entry, "a");
  ASSERT_TRUE(decoder.Next(&entry, &step).ok());
  EXPECT_EQ(entry, "bb");
  ASSERT_TRUE(decoder.Next(&entry, &step).ok());
  EXPECT_EQ(step, SnapshotDecoder::Step::kDone);
  EXPECT_EQ(decoder.offset(), bytes.size());
  EXPECT_EQ(decoder.entries_read(), 2u);
}

TEST(SnapshotDecoderTest, AnyFlippedByteIsCorruption) {
  std::string bytes = SnapshotBytes({3, 1, 1, "m"}, Entries(20));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    Decoded d = FeedInPieces(bad, 64, static_cast<uint32_t>(i));
    EXPECT_FALSE(d.status.ok() && d.done) << "byte " << i << " flipped went unnoticed";
    if (!d.status.ok()) {
      EXPECT_TRUE(d.status.IsCorruption()) << d.status.ToString();
      EXPECT_NE(d.status.message().find("offset"), std::string::npos);
    }
  }
}

TEST(SnapshotDecoderTest, BytesAfterTheTrailerAreCorruption) {
  std::string bytes = SnapshotBytes({3, 1, 1, "m"}, Entries(3));
  {
    // In the same Append as the trailer.
    SnapshotDecoder decoder("test");
    decoder.Append(bytes + "x");
    std::string_view entry;
    SnapshotDecoder::Step step = SnapshotDecoder::Step::kNeedMore;
    Status st;
    while (st.ok() && step != SnapshotDecoder::Step::kDone) st = decoder.Next(&entry, &step);
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
    EXPECT_NE(st.message().find("after the trailer"), std::string::npos);
  }

  // Appended once done: asking again reports them.
  SnapshotDecoder decoder("test");
  decoder.Append(bytes);
  std::string_view entry;
  SnapshotDecoder::Step step = SnapshotDecoder::Step::kNeedMore;
  while (step != SnapshotDecoder::Step::kDone) ASSERT_TRUE(decoder.Next(&entry, &step).ok());
  decoder.Append("y");
  EXPECT_TRUE(decoder.Next(&entry, &step).IsCorruption());
}

TEST(SnapshotDecoderTest, TrailerCountMustMatchTheEntries) {
  SnapshotMeta meta{3, 1, 1, "m"};
  std::string bytes;
  EncodeSnapshotHeader(meta, &bytes);
  AppendSnapshotEntry("only", &bytes);
  PutFixed32(&bytes, kTrailerMarker);
  PutFixed32(&bytes, 0);
  PutFixed64(&bytes, 2);  // says two
  PutFixed64(&bytes, Checksum64(bytes));
  Decoded d = FeedInPieces(bytes, 16, 3);
  EXPECT_TRUE(d.status.IsCorruption());
  EXPECT_NE(d.status.message().find("trailer says 2 entries, read 1"), std::string::npos)
      << d.status.ToString();
}

}  // namespace
}  // namespace tandem::snapshot
