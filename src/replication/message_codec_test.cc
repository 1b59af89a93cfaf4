#include "replication/message_codec.h"

#include <gtest/gtest.h>

#include "replication/random.h"
#include "util/coding.h"

namespace tandem::replication {
namespace {

Message Sample(MessageType type) {
  Message m;
  m.type = type;
  m.from = 3;
  m.to = 300;
  m.term = 1ull << 40;
  m.index = 41;
  m.log_term = 7;
  m.commit = 40;
  m.hint = 12;
  m.reject = true;
  m.force = true;
  m.peer_catching_up = true;
  m.seq = 99;
  m.sent_tick = 123456;
  if (type == MessageType::kAppend) {
    m.entries.push_back(
        Entry{7, 42, EntryType::kNormal, std::make_shared<const std::string>("set k v")});
    m.entries.push_back(Entry{8, 43, EntryType::kNoop, nullptr});
    m.entries.push_back(Entry{8, 44, EntryType::kNormal, std::make_shared<const std::string>("")});
  }
  if (type == MessageType::kSnapshot)
    m.snapshot = SnapshotMeta{1000, 6, Membership{{1, 2, 3}, {4}}};
  return m;
}

void ExpectEqual(const Message& a, const Message& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.term, b.term);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.log_term, b.log_term);
  EXPECT_EQ(a.commit, b.commit);
  EXPECT_EQ(a.hint, b.hint);
  EXPECT_EQ(a.reject, b.reject);
  EXPECT_EQ(a.force, b.force);
  EXPECT_EQ(a.peer_catching_up, b.peer_catching_up);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.sent_tick, b.sent_tick);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].term, b.entries[i].term);
    EXPECT_EQ(a.entries[i].index, b.entries[i].index);
    EXPECT_EQ(a.entries[i].type, b.entries[i].type);
    EXPECT_EQ(a.entries[i].data(), b.entries[i].data());
  }
  EXPECT_EQ(a.snapshot, b.snapshot);
}

TEST(MessageCodecTest, EveryTypeRoundTrips) {
  for (int t = 1; t <= 10; ++t) {
    Message m = Sample(static_cast<MessageType>(t));
    auto decoded = DecodeMessage(EncodeMessage(m));
    ASSERT_TRUE(decoded.ok()) << MessageTypeName(m.type) << ": " << decoded.status().ToString();
    ExpectEqual(m, *decoded);
  }
}

TEST(MessageCodecTest, EachFlagRoundTripsAlone) {
  for (int flag = 0; flag < 3; ++flag) {
    Message m = Sample(MessageType::kHeartbeat);
    m.reject = flag == 0;
    m.force = flag == 1;
    m.peer_catching_up = flag == 2;
    auto decoded = DecodeMessage(EncodeMessage(m));
    ASSERT_TRUE(decoded.ok()) << flag << ": " << decoded.status().ToString();
    ExpectEqual(m, *decoded);
  }
}

TEST(MessageCodecTest, EveryTruncationIsRejected) {
  for (MessageType t : {MessageType::kAppend, MessageType::kSnapshot, MessageType::kVote}) {
    std::string bytes = EncodeMessage(Sample(t));
    for (size_t len = 0; len < bytes.size(); ++len) {
      EXPECT_FALSE(DecodeMessage(std::string_view(bytes).substr(0, len)).ok()) << len;
    }
    EXPECT_FALSE(DecodeMessage(bytes + '\0').ok()) << "trailing byte";
  }
}

TEST(MessageCodecTest, BadHeaderFieldsAreRejected) {
  std::string bytes = EncodeMessage(Sample(MessageType::kHeartbeat));
  std::string bad = bytes;
  bad[0] = 2;  // version
  EXPECT_FALSE(DecodeMessage(bad).ok());
  bad = bytes;
  bad[1] = 11;  // type
  EXPECT_FALSE(DecodeMessage(bad).ok());
  bad = bytes;
  bad[2] = 8;  // unknown flag
  EXPECT_FALSE(DecodeMessage(bad).ok());
}

TEST(MessageCodecTest, HugeEntryCountIsRejectedWithoutAllocating) {
  Message m = Sample(MessageType::kHeartbeat);
  std::string bytes = EncodeMessage(m);
  bytes.pop_back();  // entry count 0
  PutVarint64(&bytes, 1ull << 60);
  EXPECT_FALSE(DecodeMessage(bytes).ok());
}

TEST(MessageCodecTest, RandomBytesAndMutationsNeverCrash) {
  SeededRandom random(42);
  std::string valid = EncodeMessage(Sample(MessageType::kAppend));
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes = valid;
      for (int k = 0; k < 3; ++k)
        bytes[random.Uniform(bytes.size())] = static_cast<char>(random.Next());
    } else {
      bytes.resize(random.Uniform(64));
      for (char& ch : bytes) ch = static_cast<char>(random.Next());
    }
    accepted += DecodeMessage(bytes).ok();
  }
  EXPECT_LT(accepted, 20000);
}

}  // namespace
}  // namespace tandem::replication
