#include <gtest/gtest.h>

#include "replication/test_cluster.h"

namespace tandem::replication::testing {
namespace {

std::string Value(int i) {
  std::string s = "v";
  s += std::to_string(i);
  return s;
}

bool IsAppendTo(const Message& m, NodeId to) {
  return m.type == MessageType::kAppend && m.to == to;
}

void ExpectSameApplied(TestCluster& c) {
  const auto& ref = c.node(1).applied;
  for (NodeId id : c.ids()) {
    const auto& applied = c.node(id).applied;
    ASSERT_EQ(applied.size(), ref.size()) << "node " << id;
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(applied[i].index, ref[i].index);
      EXPECT_EQ(applied[i].term, ref[i].term);
      EXPECT_EQ(applied[i].data(), ref[i].data());
    }
  }
}

TEST(ReplicationTest, ProposalsCommitAndApplyEverywhereInOrder) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose(1, Value(i)).ok());
  c.Deliver();
  c.TickAll();  // heartbeat carries the final commit index
  EXPECT_EQ(c.core(1).commit_index(), 21u);
  ExpectSameApplied(c);
  EXPECT_EQ(c.node(2).applied.back().data(), "v19");
}

TEST(ReplicationTest, AFollowerBehindLearnsTheLeadersCommitIndexFromItsFirstAppend) {
  // What tells a node it is catching up (the server then fsyncs in the
  // background and holds off snapshots): the leader's commit index, which
  // its own commit index (capped at its log) does not show.
  TestCluster c(3, 0, [](Config& cfg) { cfg.max_entries_per_message = 4; });
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(3);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.Propose(1, Value(i)).ok());
  c.Deliver();
  ASSERT_EQ(c.core(1).commit_index(), 41u);
  EXPECT_LT(c.core(3).leader_commit_index(), 41u);
  c.Heal();
  // Node 3 gets the first append only (4 entries after what it has).
  const Index had = c.core(3).log().last_index();
  c.SetDropFilter([had](const Message& m) {
    return m.to == 3 && m.type == MessageType::kAppend && m.index >= had + 4;
  });
  for (int i = 0; i < 20 && c.core(3).log().last_index() < had + 4; ++i) c.TickAll();
  ASSERT_EQ(c.core(3).log().last_index(), had + 4);
  EXPECT_EQ(c.core(3).leader_commit_index(), 41u);
  EXPECT_EQ(c.core(3).commit_index(), had + 4);
  c.SetDropFilter(nullptr);
  for (int i = 0; i < 20 && c.core(3).commit_index() < 41; ++i) c.TickAll();
  EXPECT_EQ(c.core(3).commit_index(), 41u);
  EXPECT_EQ(c.core(3).leader_commit_index(), 41u);
}

TEST(ReplicationTest, ProposeOnFollowerIsUnavailable) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  auto r = c.core(2).Propose(std::string("x"), Durability::kMajority);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
}

TEST(ReplicationTest, ManyEntriesTravelInOneMessage) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(c.core(1).Propose(std::string("e"), Durability::kMajority).ok());
  c.ProcessReadies();
  auto appends = c.TakeMessages([](const Message& m) { return IsAppendTo(m, 2); });
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0].entries.size(), 100u);
}

TEST(ReplicationTest, PipelineStopsAtTheInflightWindow) {
  TestCluster c(3, 0, [](Config& cfg) {
    cfg.max_inflight_batches = 3;
    cfg.max_entries_per_message = 2;
  });
  ASSERT_TRUE(c.ElectLeader(1));
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.core(1).Propose(std::string("e"), Durability::kMajority).ok());
  c.ProcessReadies();
  auto appends = c.TakeMessages([](const Message& m) { return IsAppendTo(m, 2); });
  ASSERT_EQ(appends.size(), 3u);
  EXPECT_EQ(appends[0].index, 1u);
  EXPECT_EQ(appends[1].index, 3u);  // pipelined: sent before the first is acknowledged
  EXPECT_EQ(appends[2].entries.back().index, 7u);
  c.queue().clear();
  // Lost appends are resent after two heartbeats show no progress.
  c.TickAll(4);
  c.TickAll(10);
  EXPECT_EQ(c.core(2).log().last_index(), 21u);
  EXPECT_EQ(c.core(1).commit_index(), 21u);
}

TEST(ReplicationTest, AFollowerSlowToAnswerIsNotResentItsWindow) {
  // A follower far behind: its answers come back after several heartbeats
  // went out (they queue behind megabytes of appends), all showing the
  // same verified index. Nothing was lost, so nothing is sent again.
  TestCluster c(3, 0, [](Config& cfg) {
    cfg.max_inflight_batches = 3;
    cfg.max_entries_per_message = 2;
  });
  ASSERT_TRUE(c.ElectLeader(1));
  c.node(2).auto_durable = false;  // its acknowledgements wait for fsync
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.core(1).Propose(std::string("e"), Durability::kMajority).ok());
  c.ProcessReadies();
  auto to2 = c.TakeMessages([](const Message& m) { return m.to == 2; });
  ASSERT_EQ(to2.size(), 3u);  // the window: entries 2..7 (after the leader's no-op)
  for (int t = 0; t < 3; ++t) {
    c.Tick(1);
    auto hb = c.TakeMessages(
        [](const Message& m) { return m.to == 2 && m.type == MessageType::kHeartbeat; });
    ASSERT_EQ(hb.size(), 1u);
    to2.push_back(hb[0]);
  }
  for (Message& m : to2) ASSERT_TRUE(c.core(2).Step(std::move(m)).ok());
  c.ProcessReadies();
  auto answers = c.TakeMessages([](const Message& m) {
    return m.to == 1 && m.type == MessageType::kHeartbeatResponse;
  });
  ASSERT_EQ(answers.size(), 3u);
  c.queue().clear();
  for (Message& m : answers) {
    EXPECT_EQ(m.hint, 7u);
    ASSERT_TRUE(c.core(1).Step(std::move(m)).ok());
    c.ProcessReadies();
  }
  for (const Message& m : c.queue()) {
    if (IsAppendTo(m, 2)) {
      EXPECT_GE(m.index, 7u) << "entries the follower holds sent again";
    }
  }
  for (const auto& p : c.core(1).GetStatus().peers) {
    if (p.id == 2) {
      EXPECT_EQ(p.state, ProgressState::kReplicate);
    }
  }
}

TEST(ReplicationTest, FollowerAcknowledgesOnlyDurableEntries) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.node(2).auto_durable = false;
  c.node(3).auto_durable = false;
  auto id = c.Propose(1, "x");
  ASSERT_TRUE(id.ok());
  c.Deliver();
  EXPECT_LT(c.core(1).commit_index(), id->index) << "nothing durable on a follower yet";
  EXPECT_EQ(c.core(2).log().last_index(), id->index);
  c.SyncWal(2);
  c.Deliver();
  EXPECT_EQ(c.core(1).commit_index(), id->index);
}

TEST(ReplicationTest, LeaderCountsItselfOnlyOnceDurable) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.node(1).auto_durable = false;
  c.Isolate(3);
  auto id = c.Propose(1, "x");
  c.Deliver();
  EXPECT_LT(c.core(1).commit_index(), id->index)
      << "leader + follower 2 needed, leader not durable";
  c.SyncWal(1);
  c.Deliver();
  EXPECT_EQ(c.core(1).commit_index(), id->index);
}

TEST(ReplicationTest, OnlyCurrentTermEntriesAreCommittedByCounting) {
  // Node 1 holds an entry of term 2 that nodes 2 and 3 lack. When node 1
  // leads term 3 and replicates that entry to node 2 only, a majority holds
  // it, but it must not commit until the term-3 no-op reaches a majority.
  TestCluster c(3, 0, [](Config& cfg) { cfg.max_entries_per_message = 1; });
  // Build the history with cores loaded from "disk".
  for (NodeId id : {1, 2, 3}) {
    TestNode& n = c.node(id);
    Config cfg;
    cfg.id = id;
    cfg.random = n.random.get();
    cfg.max_entries_per_message = 1;
    PersistedState st;
    st.hard_state.term = 2;
    st.snapshot.membership.voters = {1, 2, 3};
    st.entries.push_back(Entry{1, 1, EntryType::kNormal, nullptr});
    if (id == 1) st.entries.push_back(Entry{2, 2, EntryType::kNormal, nullptr});
    n.core = std::move(Core::Create(cfg, st)).value();
  }
  for (int i = 0; i < 12; ++i) c.core(2).Tick(), c.core(3).Tick();  // past start-up lease
  c.ProcessReadies();
  c.queue().clear();
  c.Isolate(3);
  // Node 2 sees the first probe (which it rejects, lacking entry 2), then
  // receives entry 2 but never the term-3 no-op.
  int term3_appends = 0;
  c.SetDropFilter([&term3_appends](const Message& m) {
    if (m.type != MessageType::kAppend || m.to != 2) return false;
    for (const Entry& e : m.entries) {
      if (e.term == 3) return ++term3_appends > 1;
    }
    return false;
  });
  ASSERT_TRUE(c.ElectLeader(1));
  EXPECT_EQ(c.core(1).term(), 3u);
  c.Tick(1, 3);
  c.Deliver();
  ASSERT_EQ(c.core(2).log().last_index(), 2u) << "node 2 got the term-2 entry only";
  EXPECT_EQ(c.core(1).durable_index(), 3u);
  EXPECT_EQ(c.core(1).commit_index(), 0u) << "a term-2 entry committed by counting replicas";
  c.SetDropFilter(nullptr);
  c.Tick(1, 2);
  c.Deliver();
  EXPECT_EQ(c.core(1).commit_index(), 3u);
  EXPECT_EQ(c.core(2).commit_index(), 3u);
}

TEST(ReplicationTest, DivergentSuffixIsTruncatedAndReportedAsRolledBack) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  ASSERT_TRUE(c.Propose(1, "committed").ok());
  c.Deliver();
  c.TickAll();
  c.Isolate(1);
  auto lost1 = c.Propose(1, "lost-1", Durability::kLeader);
  auto lost2 = c.Propose(1, "lost-2", Durability::kLeader);
  ASSERT_TRUE(lost1.ok() && lost2.ok());
  ASSERT_EQ(c.node(1).completions.size(), 3u);  // "leader" durability completes at once
  NodeId new_leader = kNoNode;
  for (int i = 0; i < 60 && new_leader == kNoNode; ++i) {
    c.Tick(2), c.Tick(3);
    c.Deliver();
    for (NodeId id : {2, 3}) {
      if (c.core(id).IsLeader()) new_leader = id;
    }
  }
  ASSERT_NE(new_leader, kNoNode);
  ASSERT_TRUE(c.Propose(new_leader, "new-1").ok());
  ASSERT_TRUE(c.Propose(new_leader, "new-2").ok());
  ASSERT_TRUE(c.Propose(new_leader, "new-3").ok());
  c.Deliver();
  c.Heal();
  c.TickAll(5);
  EXPECT_EQ(c.core(1).leader(), new_leader);
  ASSERT_EQ(c.node(1).rolled_back.size(), 2u);
  EXPECT_EQ(c.node(1).rolled_back[0].data(), "lost-1");
  EXPECT_EQ(c.node(1).rolled_back[1].data(), "lost-2");
  EXPECT_EQ(c.core(1).log().last_index(), c.core(new_leader).log().last_index());
  ExpectSameApplied(c);
}

TEST(ReplicationTest, FastBackOffSkipsWholeTermsOfDivergentLog) {
  TestCluster c(3, 0, [](Config& cfg) { cfg.max_entries_per_message = 1000; });
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(1);
  for (int i = 0; i < 200; ++i) (void)c.core(1).Propose(std::string("stale"), Durability::kLeader);
  c.ProcessReadies();
  NodeId new_leader = kNoNode;
  for (int i = 0; i < 60 && new_leader == kNoNode; ++i) {
    c.Tick(2), c.Tick(3);
    c.Deliver();
    for (NodeId id : {2, 3}) {
      if (c.core(id).IsLeader()) new_leader = id;
    }
  }
  ASSERT_NE(new_leader, kNoNode);
  c.Heal();
  int rejects = 0;
  for (int round = 0; round < 50; ++round) {
    c.TickAll();
    for (const Message& m : c.queue())
      rejects += m.reject && m.type == MessageType::kAppendResponse;
  }
  EXPECT_EQ(c.core(1).log().last_index(), c.core(new_leader).log().last_index());
  EXPECT_LE(rejects, 3) << "one reject should skip the whole stale term";
}

// Node 1 leads and commits 10 values (index 11 with its first entry)
// while node 3 is cut off; then node 1 compacts up to index 8.
void CommitTenWithoutNode3ThenCompactLeader(TestCluster& c) {
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, Value(i)).ok());
  c.Deliver();
  c.TickAll();
  ASSERT_EQ(c.core(1).commit_index(), 11u);
  ASSERT_TRUE(c.core(1).Compact(8).ok());
}

TEST(ReplicationTest, LaggingFollowerGetsASnapshotAfterCompaction) {
  TestCluster c(3);
  ASSERT_NO_FATAL_FAILURE(CommitTenWithoutNode3ThenCompactLeader(c));
  ASSERT_TRUE(c.core(2).Compact(8).ok());
  EXPECT_FALSE(c.core(1).Compact(50).ok());
  c.Heal();
  bool snapshot_sent = false;
  for (int i = 0; i < 5; ++i) {
    c.TickAll();
    for (const Message& m : c.queue()) snapshot_sent |= m.type == MessageType::kSnapshot;
  }
  c.TickAll(3);
  EXPECT_EQ(c.node(3).snapshot.index, 8u);
  EXPECT_EQ(c.core(3).log().snapshot_index(), 8u);
  EXPECT_EQ(c.core(3).log().last_index(), 11u);
  EXPECT_EQ(c.core(3).commit_index(), 11u);
  ASSERT_TRUE(c.Propose(1, "after").ok());
  c.Deliver();
  c.TickAll();
  EXPECT_EQ(c.core(3).commit_index(), 12u);
  EXPECT_EQ(c.node(3).applied.back().data(), "after");
}

TEST(ReplicationTest, AnInstallOvertakenByAppendsIsNoLongerWanted) {
  // Node 3 is sent a snapshot but installs it later (a server loading it on
  // a thread); meanwhile a new leader, whose log was not compacted, brings
  // it up to date with appends. Installing the old snapshot then would roll
  // its state back: the core says it is no longer wanted.
  TestCluster c(3);
  ASSERT_NO_FATAL_FAILURE(CommitTenWithoutNode3ThenCompactLeader(c));  // node 2 keeps its log
  c.node(3).defer_installs = true;
  c.Heal();
  for (int i = 0; i < 5 && c.node(3).deferred_installs.empty(); ++i) c.TickAll();
  ASSERT_EQ(c.node(3).deferred_installs.size(), 1u);
  SnapshotMeta meta = c.node(3).deferred_installs[0];
  EXPECT_EQ(meta.index, 8u);
  EXPECT_TRUE(c.core(3).InstallStillWanted(meta));
  SnapshotMeta other = meta;
  other.index = 7;
  EXPECT_FALSE(c.core(3).InstallStillWanted(other));

  c.Isolate(1);
  for (int i = 0; i < 100 && !c.core(2).IsLeader(); ++i) {
    c.Tick(2), c.Tick(3);
    c.Deliver();
  }
  ASSERT_TRUE(c.core(2).IsLeader());  // node 3's log is empty: it cannot win
  for (int i = 0; i < 5 && c.core(3).commit_index() <= meta.index; ++i) c.TickAll();
  ASSERT_GT(c.core(3).commit_index(), meta.index);
  EXPECT_FALSE(c.core(3).InstallStillWanted(meta));
}

TEST(ReplicationTest, StaleLeaderLearnsTheNewTermAndStepsDown) {
  TestCluster c(3, 0, [](Config& cfg) { cfg.check_quorum = false; });
  ASSERT_TRUE(c.ElectLeader(1));
  c.Isolate(1);
  for (int i = 0; i < 60 && !c.core(2).IsLeader() && !c.core(3).IsLeader(); ++i) {
    c.Tick(2), c.Tick(3);
    c.Deliver();
  }
  EXPECT_TRUE(c.core(1).IsLeader());
  c.Heal();
  c.TickAll(2);
  EXPECT_FALSE(c.core(1).IsLeader());
  EXPECT_GT(c.core(1).term(), 1u);
}

TEST(ReplicationTest, AFollowerThatLostItsDataCatchesUpInAnIdleCluster) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "v").ok());
  c.Deliver();
  const Index last = c.core(1).log().last_index();
  ASSERT_EQ(c.core(2).log().last_index(), last);
  // Node 2 restarts with an empty data dir; no client writes follow.
  TestNode& n = c.node(2);
  n.wal.clear();
  n.hard_state = HardState{};
  n.applied.clear();
  Config cfg;
  cfg.id = 2;
  cfg.random = n.random.get();
  PersistedState st;
  st.snapshot.membership.voters = {1, 2, 3};
  n.core = std::move(Core::Create(cfg, st)).value();
  for (int i = 0; i < 10 && c.core(2).log().last_index() < last; ++i) c.TickAll(1);
  EXPECT_EQ(c.core(2).log().last_index(), last) << "caught up only by a later write";
  EXPECT_EQ(n.applied.size(), last) << "every committed entry applied, the no-op included";
}

TEST(ReplicationTest, RestartFromPersistedStateKeepsTheLog) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "v").ok());
  c.Deliver();
  TestNode& n = c.node(2);
  Config cfg;
  cfg.id = 2;
  cfg.random = n.random.get();
  PersistedState st{n.hard_state, n.snapshot, n.wal};
  auto restarted = Core::Create(cfg, st);
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ((*restarted)->log().last_index(), 6u);
  EXPECT_EQ((*restarted)->term(), 1u);
  EXPECT_EQ((*restarted)->durable_index(), 6u);
  // A corrupt persisted log is refused.
  st.entries[2].index = 9;
  EXPECT_FALSE(Core::Create(cfg, st).ok());
}

TEST(ReplicationTest, CommitIndexAloneWaitsForTheNextBatchOrATick) {
  TestCluster c(3, 0, [](Config& cfg) {
    cfg.commit_notify_ticks = 1;
    cfg.heartbeat_ticks = 5;  // no heartbeat in the tick below
  });
  ASSERT_TRUE(c.ElectLeader(1));
  c.Deliver();
  auto x = c.Propose(1, "x");
  ASSERT_TRUE(x.ok());
  c.Deliver();
  ASSERT_EQ(c.core(1).commit_index(), x->index);
  EXPECT_LT(c.core(2).commit_index(), x->index) << "an empty append carried the commit at once";
  // The next batch carries it.
  auto y = c.Propose(1, "y");
  ASSERT_TRUE(y.ok());
  c.ProcessReadies();
  int appends = 0;
  for (const Message& m : c.queue()) {
    if (m.type != MessageType::kAppend) continue;
    ++appends;
    EXPECT_EQ(m.entries.size(), 1u);
    EXPECT_EQ(m.commit, x->index);
  }
  EXPECT_EQ(appends, 2);
  c.Deliver();
  EXPECT_EQ(c.core(2).commit_index(), x->index);
  ASSERT_EQ(c.core(1).commit_index(), y->index);
  // With no further batch, a tick sends the commit index alone.
  c.Tick(1);
  int empty_appends = 0;
  for (const Message& m : c.queue()) {
    if (m.type == MessageType::kAppend && m.entries.empty() && m.commit == y->index) {
      ++empty_appends;
    }
  }
  EXPECT_EQ(empty_appends, 2);
  c.Deliver();
  EXPECT_EQ(c.core(2).commit_index(), y->index);
  EXPECT_EQ(c.core(3).commit_index(), y->index);
}

TEST(ReplicationTest, FollowerAnswersAnAppendOnceItsEntriesAreDurable) {
  TestCluster c(3);
  ASSERT_TRUE(c.ElectLeader(1));
  c.Deliver();
  c.node(2).auto_durable = false;
  c.Isolate(3);
  auto id = c.Propose(1, "x");
  ASSERT_TRUE(id.ok());
  c.ProcessReadies();
  uint64_t append_sent_tick = 0;
  for (const Message& m : c.queue()) {
    if (m.type == MessageType::kAppend && m.to == 2) append_sent_tick = m.sent_tick;
  }
  ASSERT_GT(append_sent_tick, 0u);
  c.Deliver(1);  // the append reaches node 2
  auto early = c.TakeMessages([](const Message& m) {
    return m.from == 2 && m.type == MessageType::kAppendResponse;
  });
  EXPECT_TRUE(early.empty()) << "answered before its entries were durable";
  c.SyncWal(2);
  c.ProcessReadies();
  auto acks = c.TakeMessages([](const Message& m) {
    return m.from == 2 && m.type == MessageType::kAppendResponse;
  });
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].index, id->index);
  EXPECT_EQ(acks[0].sent_tick, append_sent_tick) << "the deferred answer echoes the append";
}

}  // namespace
}  // namespace tandem::replication::testing
