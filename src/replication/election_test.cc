#include <gtest/gtest.h>

#include "replication/test_cluster.h"

namespace tandem::replication::testing {
namespace {

Message VoteRequest(NodeId from, NodeId to, Term term, Index last_index, Term last_term,
                    MessageType type = MessageType::kVote) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

const Message* FindMessage(const Ready& rd, MessageType type) {
  for (const Message& m : rd.messages) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

TEST(ElectionTest, SingleNodeElectsItselfAndCommits) {
  TestCluster c(1);
  ASSERT_TRUE(c.ElectLeader(1));
  EXPECT_EQ(c.core(1).term(), 1u);
  auto id = c.Propose(1, "x");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(c.core(1).commit_index(), id->index);
  ASSERT_EQ(c.node(1).applied.size(), 2u);  // no-op + x
  EXPECT_EQ(c.node(1).applied[1].data(), "x");
}

TEST(ElectionTest, ThreeNodesAgreeOnOneLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(2));
  for (NodeId id : {1, 3}) {
    EXPECT_EQ(c.core(id).role(), Role::kFollower);
    EXPECT_EQ(c.core(id).leader(), 2u);
    EXPECT_EQ(c.core(id).term(), 1u);
  }
  // The leader's no-op is committed everywhere.
  EXPECT_EQ(c.core(1).commit_index(), 1u);
  EXPECT_EQ(c.node(3).applied.size(), 1u);
  EXPECT_EQ(c.node(3).applied[0].type, EntryType::kNoop);
}

TEST(ElectionTest, VoteIsPersistedInTheSameReadyAsTheGrant) {
  TestCluster c(3);
  ASSERT_TRUE(c.core(1).Step(VoteRequest(2, 1, 4, 0, 0)).ok());
  Ready rd = c.core(1).TakeReady();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 4u);
  EXPECT_EQ(rd.hard_state->vote, 2u);
  const Message* reply = FindMessage(rd, MessageType::kVoteResponse);
  ASSERT_NE(reply, nullptr);
  EXPECT_FALSE(reply->reject);
}

TEST(ElectionTest, OneVotePerTerm) {
  TestCluster c(3);
  ASSERT_TRUE(c.core(1).Step(VoteRequest(2, 1, 4, 0, 0)).ok());
  (void)c.core(1).TakeReady();
  ASSERT_TRUE(c.core(1).Step(VoteRequest(3, 1, 4, 0, 0)).ok());
  Ready rd = c.core(1).TakeReady();
  const Message* reply = FindMessage(rd, MessageType::kVoteResponse);
  ASSERT_NE(reply, nullptr);
  EXPECT_TRUE(reply->reject);
  // Asking again for the same candidate is granted again (lost reply).
  ASSERT_TRUE(c.core(1).Step(VoteRequest(2, 1, 4, 0, 0)).ok());
  rd = c.core(1).TakeReady();
  reply = FindMessage(rd, MessageType::kVoteResponse);
  ASSERT_NE(reply, nullptr);
  EXPECT_FALSE(reply->reject);
}

class UpToDateTest : public ::testing::TestWithParam<bool> {};

TEST_P(UpToDateTest, VoteRequiresAnUpToDateLog) {
  const bool unsafe = GetParam();
  SeededRandom random(1);
  Config config;
  config.id = 1;
  config.random = &random;
  config.unsafe_skip_vote_log_check = unsafe;
  PersistedState state;
  state.hard_state.term = 3;
  state.snapshot.membership.voters = {1, 2, 3};
  for (Index i = 1; i <= 3; ++i)
    state.entries.push_back(Entry{i == 3 ? 3u : 1u, i, EntryType::kNormal, nullptr});
  auto core = Core::Create(config, state);
  ASSERT_TRUE(core.ok());
  for (int i = 0; i < 11; ++i) (*core)->Tick();  // past the start-up lease
  (void)(*core)->TakeReady();
  struct Case {
    Index last_index;
    Term last_term;
    bool granted;
  } cases[] = {{2, 3, false}, {5, 2, false}, {3, 3, true}, {1, 4, true}};
  Term term = 10;
  for (const Case& tc : cases) {
    ASSERT_TRUE((*core)->Step(VoteRequest(2, 1, ++term, tc.last_index, tc.last_term)).ok());
    Ready rd = (*core)->TakeReady();
    const Message* reply = FindMessage(rd, MessageType::kVoteResponse);
    ASSERT_NE(reply, nullptr);
    EXPECT_EQ(!reply->reject, tc.granted || unsafe)
        << "last_index=" << tc.last_index << " last_term=" << tc.last_term;
  }
}
INSTANTIATE_TEST_SUITE_P(SafeAndUnsafe, UpToDateTest, ::testing::Bool());

TEST(ElectionTest, ElectionTimeoutIsRandomizedWithinOneToTwoTimeouts) {
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SeededRandom random(seed);
    Config config;
    config.id = 1;
    config.random = &random;
    config.election_ticks = 10;
    PersistedState state;
    state.snapshot.membership.voters = {1, 2, 3};
    auto core = Core::Create(config, state);
    ASSERT_TRUE(core.ok());
    int ticks = 0;
    while ((*core)->role() == Role::kFollower && ticks < 100) {
      (*core)->Tick();
      ++ticks;
    }
    EXPECT_GE(ticks, 10);
    EXPECT_LT(ticks, 20);
    EXPECT_EQ((*core)->role(), Role::kPreCandidate);
    EXPECT_EQ((*core)->term(), 0u) << "pre-vote must not bump the term";
    seen.insert(ticks);
  }
  EXPECT_GT(seen.size(), 3u);
}

TEST(ElectionTest, PreVoteKeepsAReturningNodeFromDisturbingTheLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(3);
  for (int i = 0; i < 100; ++i) c.TickAll();
  EXPECT_EQ(c.core(3).term(), 1u) << "isolated node only pre-votes";
  EXPECT_NE(c.core(3).role(), Role::kLeader);
  c.Heal();
  c.TickAll(5);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  EXPECT_EQ(c.core(1).term(), 1u);
  EXPECT_EQ(c.core(3).leader(), 1u);
}

TEST(ElectionTest, WithoutPreVoteAReturningNodeBumpsTheTerm) {
  TestCluster c(3, 0, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(3);
  c.TickAll(50);
  EXPECT_GT(c.core(3).term(), 1u);  // the control: pre-vote is what prevents this
}

TEST(ElectionTest, CheckQuorumStepsDownAPartitionedLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(1);
  for (int i = 0; i < 25 && c.core(1).role() == Role::kLeader; ++i) c.Tick(1);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  EXPECT_NE(c.core(1).GetStatus().last_election_reason.find("check-quorum"), std::string::npos);
  EXPECT_FALSE(c.core(1).Propose(std::string("w"), Durability::kMajority).ok());
}

TEST(ElectionTest, AStalledLeaderChecksItsQuorumOnceInTheCatchUpBurst) {
  TestCluster c(3);  // election_ticks 10
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(3);  // both followers answered recently
  // The loop stalled for three election timeouts; the followers' answers
  // from that time are not read yet.
  c.core(1).TickMany(30);
  EXPECT_EQ(c.core(1).role(), Role::kLeader) << "deposed by its own stall";
  EXPECT_FALSE(c.core(1).CanReadUnderLease()) << "the lease must still expire";
  // Answers arrive: it stays leader. Cut off for real, it steps down.
  c.Deliver();
  c.TickAll(2);
  EXPECT_EQ(c.core(1).role(), Role::kLeader);
  c.Isolate(1);
  for (int i = 0; i < 25 && c.core(1).role() == Role::kLeader; ++i) c.Tick(1);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  // Without the once-per-burst rule the same stall would depose it.
  TestCluster d(3);
  ASSERT_TRUE(d.ElectLeader(1));
  d.TickAll(3);
  for (int i = 0; i < 30; ++i) d.core(1).Tick();
  EXPECT_EQ(d.core(1).role(), Role::kFollower);
}

TEST(ElectionTest, AStalledFollowerReadsItsMessagesBeforeCampaigning) {
  TestCluster c(3);  // election_ticks 10, timeouts in [10, 20)
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(3);
  c.Tick(1, 1);  // the leader's heartbeat waits in node 2's "socket"
  c.core(2).TickMany(40);
  EXPECT_EQ(c.core(2).role(), Role::kFollower) << "campaigned before reading the leader";
  c.Deliver();  // the heartbeat is read
  c.core(2).TickMany(1);
  EXPECT_EQ(c.core(2).role(), Role::kFollower);
  EXPECT_EQ(c.core(2).leader(), 1u);
  // Still silent after the stall: it campaigns at the next regular ticks.
  c.Isolate(1);
  c.core(2).TickMany(40);
  EXPECT_EQ(c.core(2).role(), Role::kFollower);
  c.core(2).TickMany(1);
  EXPECT_NE(c.core(2).role(), Role::kFollower);
  // Short bursts (a late timer) campaign as single ticks do.
  TestCluster d(3);
  ASSERT_TRUE(d.ElectLeader(1));
  d.TickAll(3);
  d.Isolate(1);
  for (int i = 0; i < 25 && d.core(2).role() == Role::kFollower; ++i) d.core(2).TickMany(2);
  EXPECT_NE(d.core(2).role(), Role::kFollower);
}

TEST(ElectionTest, FollowerThatHearsFromALeaderIgnoresVoteRequests) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.TickAll(12);  // past the start-up lease
  ASSERT_TRUE(c.core(2).Step(VoteRequest(3, 2, 9, 100, 9)).ok());
  EXPECT_EQ(c.core(2).term(), 1u);
  EXPECT_EQ(c.core(2).leader(), 1u);
  Message forced = VoteRequest(3, 2, 9, 100, 9);
  forced.force = true;  // leadership transfer ignores the lease
  ASSERT_TRUE(c.core(2).Step(forced).ok());
  EXPECT_EQ(c.core(2).term(), 9u);
}

TEST(ElectionTest, NewLeaderElectedAfterLeaderIsCutOff) {
  TestCluster c(5);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(1);
  NodeId new_leader = kNoNode;
  for (int i = 0; i < 100 && new_leader == kNoNode; ++i) {
    c.TickAll();
    for (NodeId id : {2, 3, 4, 5}) {
      if (c.core(id).IsLeader()) new_leader = id;
    }
  }
  ASSERT_NE(new_leader, kNoNode);
  EXPECT_GT(c.core(new_leader).term(), 1u);
  c.Heal();
  c.TickAll(3);
  EXPECT_EQ(c.core(1).leader(), new_leader);
}

TEST(ElectionTest, StepRejectsMalformedMessages) {
  TestCluster c(3);
  Message m = VoteRequest(2, 3, 1, 0, 0);  // addressed to 3, stepped into 1
  EXPECT_FALSE(c.core(1).Step(m).ok());
  Message app;
  app.type = MessageType::kAppend;
  app.from = 2;
  app.to = 1;
  app.term = 1;
  app.index = 0;
  app.entries.push_back(Entry{1, 5, EntryType::kNormal, nullptr});  // not index+1
  EXPECT_FALSE(c.core(1).Step(app).ok());
  app.entries[0] = Entry{2, 1, EntryType::kNormal, nullptr};  // term above the message term
  EXPECT_FALSE(c.core(1).Step(app).ok());
  EXPECT_EQ(c.core(1).term(), 0u);
}

}  // namespace
}  // namespace tandem::replication::testing
