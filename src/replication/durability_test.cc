#include <gtest/gtest.h>

#include "replication/test_cluster.h"

namespace tandem::replication::testing {
namespace {

size_t CountCompletions(const TestNode& n, const ProposalId& id, ProposalOutcome outcome) {
  size_t count = 0;
  for (const Completion& c : n.completions) count += c.id == id && c.outcome == outcome;
  return count;
}

TEST(DurabilityTest, LeaderLevelCompletesWhenDurableOnTheLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.node(1).auto_durable = false;
  c.Isolate(1);
  auto id = c.Propose(1, "x", Durability::kLeader);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(CountCompletions(c.node(1), *id, ProposalOutcome::kSuccess), 0u);
  c.SyncWal(1);
  c.ProcessReadies();
  EXPECT_EQ(CountCompletions(c.node(1), *id, ProposalOutcome::kSuccess), 1u);
}

TEST(DurabilityTest, MajorityLevelCompletesOnCommit) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(3);
  auto id = c.Propose(1, "x", Durability::kMajority);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(CountCompletions(c.node(1), *id, ProposalOutcome::kSuccess), 0u);
  c.Deliver();
  EXPECT_EQ(CountCompletions(c.node(1), *id, ProposalOutcome::kSuccess), 1u);
}

TEST(DurabilityTest, AllLevelWaitsForEveryVoter) {
  TestCluster c(3, 1);  // node 4 is a learner and is not waited for
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(3);
  c.Isolate(4);
  auto all = c.Propose(1, "x", Durability::kAll);
  auto majority = c.Propose(1, "y", Durability::kMajority);
  c.Deliver();
  EXPECT_EQ(CountCompletions(c.node(1), *majority, ProposalOutcome::kSuccess), 1u);
  EXPECT_EQ(CountCompletions(c.node(1), *all, ProposalOutcome::kSuccess), 0u);
  c.Heal();
  c.Isolate(4);
  c.TickAll(3);
  EXPECT_EQ(CountCompletions(c.node(1), *all, ProposalOutcome::kSuccess), 1u);
}

TEST(DurabilityTest, LostLeadershipCompletesWithOutcomeUnknown) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(1);
  auto majority = c.Propose(1, "x", Durability::kMajority);
  auto all = c.Propose(1, "y", Durability::kAll);
  c.node(1).auto_durable = false;
  auto leader = c.Propose(1, "z", Durability::kLeader);
  for (int i = 0; i < 30 && c.core(1).IsLeader(); ++i) c.Tick(1);
  ASSERT_FALSE(c.core(1).IsLeader());
  for (const auto& id : {*majority, *all, *leader}) {
    EXPECT_EQ(CountCompletions(c.node(1), id, ProposalOutcome::kOutcomeUnknown), 1u);
    EXPECT_EQ(CountCompletions(c.node(1), id, ProposalOutcome::kSuccess), 0u);
  }
}

TEST(DurabilityTest, EachProposalCompletesExactlyOnce) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  std::vector<ProposalId> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(*c.Propose(1, "v", static_cast<Durability>(i % 3)));
  }
  c.Deliver();
  c.TickAll(2);
  for (const ProposalId& id : ids) {
    EXPECT_EQ(CountCompletions(c.node(1), id, ProposalOutcome::kSuccess), 1u) << id.index;
  }
  EXPECT_EQ(c.node(1).completions.size(), ids.size());
}

}  // namespace
}  // namespace tandem::replication::testing
