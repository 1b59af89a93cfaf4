#include "replication/test_cluster.h"

#include <gtest/gtest.h>

namespace tandem::replication::testing {

TestCluster::TestCluster(int voters, int learners, std::function<void(Config&)> tweak) {
  Membership m;
  for (int i = 1; i <= voters; ++i) m.voters.push_back(i);
  for (int i = voters + 1; i <= voters + learners; ++i) m.learners.push_back(i);
  for (int i = 1; i <= voters + learners; ++i) {
    TestNode& n = nodes_[i];
    n.random = std::make_unique<SeededRandom>(1000 + i);
    Config config;
    config.id = i;
    config.election_ticks = 10;
    config.heartbeat_ticks = 1;
    config.random = n.random.get();
    if (tweak) tweak(config);
    PersistedState state;
    state.snapshot.membership = m;
    n.snapshot = state.snapshot;
    auto core = Core::Create(config, state);
    EXPECT_TRUE(core.ok()) << core.status().ToString();
    n.core = std::move(core).value();
  }
}

std::vector<NodeId> TestCluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void TestCluster::SyncWal(NodeId id) {
  TestNode& n = nodes_.at(id);
  if (!n.wal.empty()) n.core->AdvanceDurable(n.wal.back().index, n.wal.back().term);
}

void TestCluster::ProcessReady(NodeId id) {
  TestNode& n = nodes_.at(id);
  while (n.core->HasReady()) {
    Ready rd = n.core->TakeReady();
    if (rd.hard_state) n.hard_state = *rd.hard_state;
    if (rd.snapshot_to_install && n.defer_installs) {
      n.deferred_installs.push_back(*rd.snapshot_to_install);
    } else if (rd.snapshot_to_install) {
      n.snapshot = *rd.snapshot_to_install;
      n.applied.clear();
      EXPECT_TRUE(n.core->OnSnapshotInstalled(*rd.snapshot_to_install).ok());
    }
    if (rd.truncate_after) {
      while (!n.wal.empty() && n.wal.back().index > *rd.truncate_after) n.wal.pop_back();
    }
    for (Entry& e : rd.entries) n.wal.push_back(e);
    for (Message& m : rd.messages) queue_.push_back(std::move(m));
    for (Entry& e : rd.committed_entries) n.applied.push_back(e);
    for (auto& c : rd.completions) n.completions.push_back(c);
    for (auto& r : rd.reads) n.reads.push_back(r);
    for (auto& e : rd.rolled_back) n.rolled_back.push_back(e);
    if (n.auto_durable && !rd.entries.empty()) {
      n.core->AdvanceDurable(rd.entries.back().index, rd.entries.back().term);
    }
  }
}

void TestCluster::ProcessReadies() {
  for (auto& [id, n] : nodes_) ProcessReady(id);
}

void TestCluster::Deliver(int max_rounds) {
  ProcessReadies();
  for (int round = 0; round < max_rounds && !queue_.empty(); ++round) {
    std::vector<Message> batch;
    batch.swap(queue_);
    for (Message& m : batch) {
      if (blocked_.count({m.from, m.to}) != 0 || nodes_.count(m.to) == 0) continue;
      if (drop_ && drop_(m)) continue;
      Status st = nodes_.at(m.to).core->Step(std::move(m));
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    ProcessReadies();
  }
}

void TestCluster::TickAll(int times) {
  for (int i = 0; i < times; ++i) {
    for (auto& [id, n] : nodes_) n.core->Tick();
    Deliver();
  }
}

void TestCluster::Tick(NodeId id, int times) {
  for (int i = 0; i < times; ++i) core(id).Tick();
  ProcessReadies();
}

bool TestCluster::ElectLeader(NodeId id) {
  Core& c = core(id);
  for (int i = 0; i < 100 && c.role() == Role::kFollower; ++i) c.Tick();
  Deliver();
  return c.role() == Role::kLeader;
}

Result<ProposalId> TestCluster::Propose(NodeId id, const std::string& payload,
                                        Durability durability) {
  auto r = core(id).Propose(payload, durability);
  ProcessReadies();
  return r;
}

void TestCluster::Isolate(NodeId id) {
  for (const auto& [other, n] : nodes_) {
    if (other == id) continue;
    Block(id, other);
    Block(other, id);
  }
}

std::vector<Message> TestCluster::TakeMessages(const std::function<bool(const Message&)>& pred) {
  std::vector<Message> taken, kept;
  for (Message& m : queue_) (pred(m) ? taken : kept).push_back(std::move(m));
  queue_.swap(kept);
  return taken;
}

}  // namespace tandem::replication::testing
