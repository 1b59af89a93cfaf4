#include "replication/membership.h"

#include <gtest/gtest.h>

#include "replication/test_cluster.h"

namespace tandem::replication::testing {
namespace {

TEST(MembershipTest, EncodeDecodeRoundTripAndRejectsGarbage) {
  Membership m{{3, 1, 2}, {7}};
  ASSERT_TRUE(NormalizeMembership(&m).ok());
  auto decoded = DecodeMembership(EncodeMembership(m));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, m);
  std::string bytes = EncodeMembership(m);
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(DecodeMembership(bytes.substr(0, len)).ok()) << len;
  }
  EXPECT_FALSE(DecodeMembership(bytes + "x").ok());
  Membership dup{{1, 1}, {}};
  EXPECT_FALSE(NormalizeMembership(&dup).ok());
  Membership both{{1, 2}, {2}};
  EXPECT_FALSE(NormalizeMembership(&both).ok());
  EXPECT_FALSE(DecodeMembership(EncodeMembership(both)).ok());
}

TEST(MembershipTest, OnlyOneVoterChangesAtATime) {
  Membership cur{{1, 2, 3}, {4}};
  EXPECT_TRUE(ValidateMembershipChange(cur, {{1, 2, 3, 4}, {}}).ok());
  EXPECT_TRUE(ValidateMembershipChange(cur, {{1, 2}, {3, 4}}).ok());
  EXPECT_TRUE(ValidateMembershipChange(cur, {{1, 2, 3}, {}}).ok());
  EXPECT_FALSE(ValidateMembershipChange(cur, {{1, 2, 4, 5}, {}}).ok());
  EXPECT_FALSE(ValidateMembershipChange(cur, {{1}, {}}).ok());
}

TEST(MembershipTest, LearnerReceivesTheLogButDoesNotCount) {
  TestCluster c(3, 1);
  ASSERT_TRUE(c.ElectLeader(1));
  ASSERT_TRUE(c.Propose(1, "a").ok());
  c.Deliver();
  c.TickAll();
  EXPECT_EQ(c.core(4).commit_index(), 2u);
  EXPECT_EQ(c.node(4).applied.back().data(), "a");
  // With two voters cut off, the learner's ack does not make a majority.
  c.Isolate(2);
  c.Isolate(3);
  auto id = c.Propose(1, "b");
  c.Deliver();
  EXPECT_EQ(c.core(4).log().last_index(), id->index);
  EXPECT_LT(c.core(1).commit_index(), id->index);
  // A learner never campaigns.
  for (int i = 0; i < 50; ++i) c.Tick(4);
  EXPECT_EQ(c.core(4).role(), Role::kFollower);
}

TEST(MembershipTest, PromoteLearnerThenRemoveAVoter) {
  TestCluster c(3, 1);
  ASSERT_TRUE(c.ElectLeader(1));
  auto bad = c.core(1).ProposeMembership({{1, 2, 3, 4, 5}, {}}, Durability::kMajority);
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  auto promote = c.core(1).ProposeMembership({{1, 2, 3, 4}, {}}, Durability::kMajority);
  ASSERT_TRUE(promote.ok()) << promote.status().ToString();
  auto busy = c.core(1).ProposeMembership({{1, 2, 4}, {}}, Durability::kMajority);
  EXPECT_EQ(busy.status().code(), Status::Code::kBusy);
  c.Deliver();
  c.TickAll();
  for (NodeId id : {1, 2, 3, 4}) EXPECT_TRUE(c.core(id).membership().IsVoter(4)) << id;
  // Four voters: a majority is three.
  c.Isolate(3);
  c.Isolate(4);
  auto stuck = c.Propose(1, "x");
  c.Deliver();
  EXPECT_LT(c.core(1).commit_index(), stuck->index);
  c.Heal();
  c.TickAll(2);
  EXPECT_EQ(c.core(1).commit_index(), stuck->index);
  // Remove voter 3: with {1,2,4}, two acks suffice.
  ASSERT_TRUE(c.core(1).ProposeMembership({{1, 2, 4}, {}}, Durability::kMajority).ok());
  c.Deliver();
  c.TickAll();
  c.Isolate(4);
  auto ok = c.Propose(1, "y");
  c.Deliver();
  EXPECT_EQ(c.core(1).commit_index(), ok->index);
}

TEST(MembershipTest, RemovedLeaderStepsDownOnceTheChangeCommits) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(12);
  ASSERT_TRUE(c.core(1).ProposeMembership({{2, 3}, {1}}, Durability::kMajority).ok());
  c.Deliver();
  EXPECT_FALSE(c.core(1).IsLeader());
  NodeId leader = kNoNode;
  for (int i = 0; i < 60 && leader == kNoNode; ++i) {
    c.TickAll();
    for (NodeId id : {2, 3}) {
      if (c.core(id).IsLeader()) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  EXPECT_FALSE(c.core(1).IsLeader());
}

TEST(MembershipTest, TruncatedChangeIsReverted) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Deliver();
  c.TickAll(12);
  c.Isolate(1);
  ASSERT_TRUE(c.core(1).ProposeMembership({{1, 2}, {3}}, Durability::kMajority).ok());
  c.ProcessReadies();
  EXPECT_FALSE(c.core(1).membership().IsVoter(3));
  NodeId leader = kNoNode;
  for (int i = 0; i < 60 && leader == kNoNode; ++i) {
    c.Tick(2), c.Tick(3);
    c.Deliver();
    for (NodeId id : {2, 3}) {
      if (c.core(id).IsLeader()) leader = id;
    }
  }
  ASSERT_NE(leader, kNoNode);
  ASSERT_TRUE(c.Propose(leader, "z").ok());
  c.Heal();
  c.TickAll(5);
  EXPECT_TRUE(c.core(1).membership().IsVoter(3)) << "uncommitted change rolled back";
}

}  // namespace
}  // namespace tandem::replication::testing
