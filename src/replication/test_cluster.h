// TestCluster: a few cores wired together in memory for unit tests. Every
// Ready is processed at once (durable immediately unless a node's
// auto_durable is off); messages are queued and delivered by Deliver().
#pragma once

#include <functional>
#include <map>
#include <set>
#include <vector>

#include "replication/core.h"

namespace tandem::replication::testing {

struct TestNode {
  std::unique_ptr<Core> core;
  std::unique_ptr<SeededRandom> random;
  HardState hard_state;
  std::vector<Entry> wal;
  SnapshotMeta snapshot;
  bool auto_durable = true;
  // Snapshot installs are only recorded here (a server installing later
  // than the Ready that announced it), not done.
  bool defer_installs = false;
  std::vector<SnapshotMeta> deferred_installs;
  std::vector<Entry> applied;
  std::vector<Completion> completions;
  std::vector<ReadResult> reads;
  std::vector<Entry> rolled_back;
};

class TestCluster {
 public:
  // Nodes 1..voters are voters, the next `learners` ids are learners.
  explicit TestCluster(int voters, int learners = 0, std::function<void(Config&)> tweak = nullptr);

  Core& core(NodeId id) { return *nodes_.at(id).core; }
  TestNode& node(NodeId id) { return nodes_.at(id); }
  std::vector<NodeId> ids() const;

  // Processes every pending Ready of every node (repeatedly).
  void ProcessReadies();
  // Delivers queued messages (and the messages they cause) until none is
  // left, at most `max_rounds` rounds.
  void Deliver(int max_rounds = 1000);
  void TickAll(int times = 1);
  void Tick(NodeId id, int times = 1);
  // Ticks `id` until it campaigns, then delivers; returns true if it leads.
  bool ElectLeader(NodeId id);
  Result<ProposalId> Propose(NodeId id, const std::string& payload,
                             Durability durability = Durability::kMajority);

  // Network faults: a blocked link drops messages from -> to.
  void Block(NodeId from, NodeId to) { blocked_.insert({from, to}); }
  void Isolate(NodeId id);
  void Heal() { blocked_.clear(); }
  // Messages for which `drop` returns true are lost (null: none).
  void SetDropFilter(std::function<bool(const Message&)> drop) { drop_ = std::move(drop); }
  // Messages taken from the queue (delivered by nobody) matching `pred`.
  std::vector<Message> TakeMessages(const std::function<bool(const Message&)>& pred);
  std::vector<Message>& queue() { return queue_; }
  // Makes node id's WAL durable up to its last entry.
  void SyncWal(NodeId id);

 private:
  void ProcessReady(NodeId id);
  std::map<NodeId, TestNode> nodes_;
  std::vector<Message> queue_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  std::function<bool(const Message&)> drop_;
};

}  // namespace tandem::replication::testing
