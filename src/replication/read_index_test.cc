#include <gtest/gtest.h>

#include "replication/test_cluster.h"

namespace tandem::replication::testing {
namespace {

TEST(ReadIndexTest, NotLeaderIsUnavailable) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  EXPECT_EQ(c.core(2).ReadIndex(1, ReadMode::kReadIndex).code(), Status::Code::kUnavailable);
}

TEST(ReadIndexTest, ReadIndexWaitsForAQuorumRoundTrip) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Deliver();
  ASSERT_TRUE(c.core(1).ReadIndex(7, ReadMode::kReadIndex).ok());
  c.ProcessReadies();
  EXPECT_TRUE(c.node(1).reads.empty()) << "must not answer before confirming leadership";
  c.Deliver();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_EQ(c.node(1).reads[0].request_id, 7u);
  EXPECT_TRUE(c.node(1).reads[0].ok);
  EXPECT_EQ(c.node(1).reads[0].index, 2u);
}

TEST(ReadIndexTest, PartitionedLeaderNeverConfirmsAndFailsOnStepDown) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(1);
  ASSERT_TRUE(c.core(1).ReadIndex(9, ReadMode::kReadIndex).ok());
  for (int i = 0; i < 30 && c.core(1).IsLeader(); ++i) c.TickAll();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_FALSE(c.node(1).reads[0].ok);
}

TEST(ReadIndexTest, LeaseReadAnswersAtOnceWhileTheLeaseHolds) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(2);  // heartbeats acknowledged by both followers
  EXPECT_TRUE(c.core(1).CanReadUnderLease());
  EXPECT_FALSE(c.core(2).CanReadUnderLease());
  ASSERT_TRUE(c.core(1).ReadIndex(1, ReadMode::kLease).ok());
  c.ProcessReadies();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_TRUE(c.node(1).reads[0].ok);
  EXPECT_EQ(c.node(1).reads[0].index, c.core(1).commit_index());
}

TEST(ReadIndexTest, ExpiredLeaseFallsBackToReadIndex) {
  TestCluster c(3, 0, [](Config& cfg) { cfg.check_quorum = true; });
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(2);
  c.Isolate(1);
  EXPECT_TRUE(c.core(1).CanReadUnderLease());
  c.Tick(1, 9);  // election_ticks 10 - drift 2 = 8: lease expired, still leader
  ASSERT_TRUE(c.core(1).IsLeader());
  EXPECT_FALSE(c.core(1).CanReadUnderLease());
  ASSERT_TRUE(c.core(1).ReadIndex(2, ReadMode::kLease).ok());
  c.ProcessReadies();
  EXPECT_TRUE(c.node(1).reads.empty());
  c.Heal();
  c.Deliver();
  ASSERT_EQ(c.node(1).reads.size(), 1u);
  EXPECT_TRUE(c.node(1).reads[0].ok);
}

TEST(ReadIndexTest, NoLeaseWithoutCheckQuorum) {
  TestCluster c(3, 0, [](Config& cfg) { cfg.check_quorum = false; });
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(2);
  EXPECT_FALSE(c.core(1).CanReadUnderLease());
  ASSERT_TRUE(c.core(1).ReadIndex(3, ReadMode::kLease).ok());
  c.ProcessReadies();
  EXPECT_TRUE(c.node(1).reads.empty());
  c.Deliver();
  EXPECT_EQ(c.node(1).reads.size(), 1u);
}

TEST(ReadIndexTest, NewLeaderWaitsForItsFirstCommit) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(12);
  c.node(1).auto_durable = false;
  c.node(2).auto_durable = false;
  c.node(3).auto_durable = false;
  c.Isolate(1);
  for (int i = 0; i < 60 && !c.core(2).IsLeader(); ++i) {
    c.Tick(2), c.Tick(3);
    c.Deliver();
    if (c.core(3).IsLeader()) break;
  }
  NodeId leader = c.core(2).IsLeader() ? 2 : 3;
  ASSERT_TRUE(c.core(leader).IsLeader());
  NodeId other = leader == 2 ? 3 : 2;
  c.node(other).auto_durable = false;
  c.node(leader).auto_durable = false;
  // Fresh leader whose no-op is not committed yet (nothing durable).
  ASSERT_TRUE(c.core(leader).Propose(std::string("x"), Durability::kMajority).ok());
  c.Deliver();
  ASSERT_LT(c.core(leader).commit_index(), c.core(leader).log().last_index());
  ASSERT_TRUE(c.core(leader).ReadIndex(5, ReadMode::kLease).ok());
  c.Deliver();
  EXPECT_TRUE(c.node(leader).reads.empty());
  c.SyncWal(leader);
  c.SyncWal(other);
  c.Deliver();
  ASSERT_EQ(c.node(leader).reads.size(), 1u);
  EXPECT_EQ(c.node(leader).reads[0].index, c.core(leader).commit_index());
}

}  // namespace
}  // namespace tandem::replication::testing
