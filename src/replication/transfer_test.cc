#include <gtest/gtest.h>

#include "replication/test_cluster.h"

namespace tandem::replication::testing {
namespace {

TEST(TransferTest, UpToDateTargetTakesOverAtOnce) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(12);
  ASSERT_TRUE(c.core(1).TransferLeadership(3).ok());
  c.Deliver();
  EXPECT_TRUE(c.core(3).IsLeader());
  EXPECT_EQ(c.core(3).term(), 2u);
  EXPECT_FALSE(c.core(1).IsLeader());
  EXPECT_EQ(c.core(1).leader(), 3u);
}

TEST(TransferTest, LaggingTargetIsBroughtUpToDateFirst) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(12);
  c.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "v").ok());
  c.Deliver();
  ASSERT_TRUE(c.core(1).TransferLeadership(3).ok());
  auto blocked = c.core(1).Propose(std::string("w"), Durability::kMajority);
  EXPECT_FALSE(blocked.ok()) << "no new writes during a transfer";
  c.Heal();
  c.TickAll(3);
  EXPECT_TRUE(c.core(3).IsLeader());
  EXPECT_EQ(c.core(3).log().last_index(), 7u);  // 2 no-ops + 5 entries
}

TEST(TransferTest, AbandonedAfterAnElectionTimeout) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(12);
  c.Block(1, 3);
  ASSERT_TRUE(c.core(1).TransferLeadership(3).ok());
  EXPECT_EQ(c.core(1).GetStatus().transfer_target, 3u);
  c.Tick(1, 10);
  EXPECT_TRUE(c.core(1).IsLeader());
  EXPECT_EQ(c.core(1).GetStatus().transfer_target, kNoNode);
  EXPECT_TRUE(c.core(1).Propose(std::string("w"), Durability::kMajority).ok());
}

TEST(TransferTest, TargetMustBeAVoter) {
  TestCluster c(3, 1);
  ASSERT_TRUE(c.ElectLeader(1));
  EXPECT_EQ(c.core(1).TransferLeadership(4).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c.core(1).TransferLeadership(9).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c.core(2).TransferLeadership(3).code(), Status::Code::kUnavailable);
  EXPECT_TRUE(c.core(1).TransferLeadership(1).ok());
}

}  // namespace
}  // namespace tandem::replication::testing
