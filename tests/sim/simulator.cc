#include "sim/simulator.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <vector>

#include "replication/core.h"
#include "replication/membership.h"
#include "replication/message_codec.h"
#include "sim/invariant_checker.h"

namespace tandem::sim {

using namespace replication;  // NOLINT: the simulator is all about this module

namespace {

constexpr uint32_t kElectionTicks = 10;
using SnapshotData = std::shared_ptr<const std::vector<Entry>>;

struct WalOp {
  bool truncate = false;
  Index after = 0;
  Entry entry;
};

struct InFlight {
  Message msg;
  SnapshotData snapshot_data;  // kSnapshot: the state streamed alongside
};

struct SimNode {
  NodeId id = kNoNode;
  std::unique_ptr<Core> core;  // null while crashed
  std::unique_ptr<SeededRandom> random;
  // Disk: survives crashes.
  HardState hard_state;
  SnapshotMeta snapshot;
  SnapshotData snapshot_data = std::make_shared<const std::vector<Entry>>();
  std::vector<Entry> wal;
  // Memory: lost on a crash.
  std::vector<WalOp> unsynced;
  std::vector<Entry> applied;
  SnapshotData incoming_snapshot;
  std::map<std::pair<Index, Term>, std::string> open_proposals;
  std::map<uint64_t, Index> open_reads;  // read id -> commit known when issued
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options) : options_(options), rng_(options.seed) {
    loss_per_mille_ = rng_.Uniform(150);
    dup_per_mille_ = rng_.Uniform(50);
    max_delay_ = 1 + rng_.Uniform(4);
    Membership initial;
    for (int i = 1; i <= options.nodes; ++i) initial.voters.push_back(i);
    for (int i = 1; i <= options.nodes; ++i) {
      SimNode& n = nodes_[i];
      n.id = i;
      n.random = std::make_unique<SeededRandom>(options.seed * 1000003 + i);
      n.snapshot.membership = initial;
    }
    for (auto& [id, n] : nodes_) Start(n);
  }

  SimResult Run() {
    for (int i = 0; i < options_.steps && checker_.ok(); ++i) Step(/*chaos=*/true);
    // Heal everything and require progress.
    blocked_.clear();
    loss_per_mille_ = 0;
    dup_per_mille_ = 0;
    for (auto& [id, n] : nodes_) {
      if (!n.core) Start(n);
    }
    bool converged = false;
    for (int i = 0; i < options_.heal_ticks && checker_.ok() && !converged; ++i) {
      Step(/*chaos=*/false);
      converged = Converged();
    }
    if (checker_.ok() && !converged) {
      checker_.Fail(
          fmt::format("liveness: no leader with every committed entry on every node "
                      "within {} ticks after healing ({})",
                      options_.heal_ticks, Describe()));
    }
    if (checker_.ok()) checker_.CheckAcknowledgedAreCommitted();
    result_.ok = checker_.ok();
    result_.violation = checker_.violation();
    result_.ticks = now_;
    result_.committed = checker_.max_commit();
    result_.acknowledged = checker_.acknowledged();
    return result_;
  }

 private:
  void Start(SimNode& n) {
    Config config;
    config.id = n.id;
    config.election_ticks = kElectionTicks;
    config.heartbeat_ticks = 2;
    config.max_inflight_batches = 4;
    // Half the seeds delay commit-only appends as the server does.
    config.commit_notify_ticks = options_.seed % 2 == 1 ? 1 : 0;
    if (options_.seed % 3 == 0) {
      // A third of the seeds keep almost nothing in memory: every older
      // entry is read back from the node's durable log, as the server does.
      config.max_resident_log_bytes = 200;
      config.entry_loader = [&n](Index from, Index to, size_t max_bytes,
                                 std::vector<Entry>* out) -> Status {
        if (n.wal.empty() || from < n.wal.front().index || to > n.wal.back().index) {
          return Status::NotFound(fmt::format("entries {}..{} not in node {}'s log", from, to, n.id));
        }
        size_t bytes = 0;
        for (Index i = from; i <= to && bytes < max_bytes; ++i) {
          out->push_back(n.wal[i - n.wal.front().index]);
          bytes += out->back().ByteSize();
        }
        return Status::Ok();
      };
    }
    config.max_entries_per_message = 8;
    config.random = n.random.get();
    config.unsafe_skip_vote_log_check = options_.unsafe_skip_vote_log_check;
    PersistedState state{n.hard_state, n.snapshot, n.wal};
    auto core = Core::Create(config, std::move(state));
    if (!core.ok()) {
      std::string wal;
      for (const Entry& e : n.wal) wal += fmt::format(" {}@{}", e.index, e.term);
      checker_.Fail(fmt::format("node {} failed to restart: {} (snapshot {}@{}, wal{})", n.id,
                                core.status().ToString(), n.snapshot.index, n.snapshot.term, wal));
      return;
    }
    n.core = std::move(core).value();
    n.applied = *n.snapshot_data;
  }

  void Crash(SimNode& n) {
    n.core.reset();
    n.unsynced.clear();
    n.applied.clear();
    n.incoming_snapshot.reset();
    n.open_proposals.clear();
    n.open_reads.clear();
    ++result_.crashes;
  }

  SimNode* Leader() {
    SimNode* best = nullptr;
    for (auto& [id, n] : nodes_) {
      if (n.core && n.core->IsLeader() && (!best || n.core->term() > best->core->term())) best = &n;
    }
    return best;
  }

  SimNode& RandomNode() { return nodes_[1 + rng_.Uniform(options_.nodes)]; }

  void Step(bool chaos) {
    ++now_;
    checker_.set_now(now_);
    if (chaos) InjectFaults();
    for (auto& [id, n] : nodes_) {
      if (n.core) n.core->Tick();
    }
    if (chaos) ClientActivity();
    DeliverDue();
    SyncDisks();
    ProcessReadies();
    MaybeCompact();
    ProcessReadies();
    for (auto& [id, n] : nodes_) {
      if (n.core && n.core->IsLeader()) checker_.OnLeader(id, n.core->term(), n.core->log());
    }
  }

  void InjectFaults() {
    if (rng_.Chance(5, 1000)) {
      SimNode& n = RandomNode();
      if (n.core) Crash(n);
    }
    for (auto& [id, n] : nodes_) {
      if (!n.core && rng_.Chance(30, 1000)) Start(n);
    }
    if (rng_.Chance(8, 1000)) Partition();
    if (rng_.Chance(10, 1000)) blocked_.clear();
  }

  void Partition() {
    blocked_.clear();
    switch (rng_.Uniform(4)) {
      case 0: {  // symmetric split into two sides
        std::vector<bool> side(options_.nodes + 1);
        for (int i = 1; i <= options_.nodes; ++i) side[i] = rng_.Chance(1, 2);
        for (int a = 1; a <= options_.nodes; ++a) {
          for (int b = 1; b <= options_.nodes; ++b) {
            if (side[a] != side[b]) blocked_.insert({a, b});
          }
        }
        break;
      }
      case 1: {  // asymmetric: random directed links fail
        for (int a = 1; a <= options_.nodes; ++a) {
          for (int b = 1; b <= options_.nodes; ++b) {
            if (a != b && rng_.Chance(1, 4)) blocked_.insert({a, b});
          }
        }
        break;
      }
      case 2: {  // one-way: a node can send but not receive (or the reverse)
        NodeId x = RandomNode().id;
        bool inbound = rng_.Chance(1, 2);
        for (int o = 1; o <= options_.nodes; ++o) {
          if (o == static_cast<int>(x)) continue;
          if (inbound) {
            blocked_.insert({static_cast<NodeId>(o), x});
          } else {
            blocked_.insert({x, static_cast<NodeId>(o)});
          }
        }
        break;
      }
      default: {  // isolate the leader
        SimNode* leader = Leader();
        if (!leader) break;
        for (int o = 1; o <= options_.nodes; ++o) {
          if (o == static_cast<int>(leader->id)) continue;
          blocked_.insert({leader->id, static_cast<NodeId>(o)});
          blocked_.insert({static_cast<NodeId>(o), leader->id});
        }
      }
    }
  }

  void ClientActivity() {
    SimNode* leader = Leader();
    if (!leader) return;
    Core& core = *leader->core;
    if (rng_.Chance(300, 1000)) {
      int batch = 1 + rng_.Uniform(4);
      for (int i = 0; i < batch; ++i) {
        auto durability = static_cast<Durability>(rng_.Uniform(3));
        std::string payload = fmt::format("n{}-{}", leader->id, ++proposal_counter_);
        auto id = core.Propose(payload, durability);
        if (id.ok()) leader->open_proposals[{id->index, id->term}] = payload;
      }
    }
    if (rng_.Chance(50, 1000)) {
      uint64_t read_id = ++read_counter_;
      auto mode = rng_.Chance(1, 2) ? ReadMode::kLease : ReadMode::kReadIndex;
      if (core.ReadIndex(read_id, mode).ok()) leader->open_reads[read_id] = MaxCommit();
    }
    if (rng_.Chance(3, 1000)) {
      const auto& voters = core.membership().voters;
      (void)core.TransferLeadership(voters[rng_.Uniform(voters.size())]);
    }
    if (rng_.Chance(4, 1000)) ChangeMembership(*leader);
  }

  void ChangeMembership(SimNode& leader) {
    Membership next = leader.core->membership();
    const size_t min_voters = options_.nodes >= 5 ? 3 : 2;
    if (!next.learners.empty() && (next.voters.size() <= min_voters || rng_.Chance(1, 2))) {
      NodeId promoted = next.learners[rng_.Uniform(next.learners.size())];
      next.learners.erase(std::find(next.learners.begin(), next.learners.end(), promoted));
      next.voters.push_back(promoted);
    } else if (next.voters.size() > min_voters) {
      NodeId demoted = next.voters[rng_.Uniform(next.voters.size())];
      next.voters.erase(std::find(next.voters.begin(), next.voters.end(), demoted));
      next.learners.push_back(demoted);
    } else {
      return;
    }
    auto id = leader.core->ProposeMembership(next, Durability::kMajority);
    if (id.ok()) {
      leader.open_proposals[{id->index, id->term}] =
          std::string(leader.core->log().Get(id->index)->data());
      ++result_.membership_changes;
    }
  }

  Index MaxCommit() const {
    Index max = 0;
    for (const auto& [id, n] : nodes_) {
      if (n.core) max = std::max(max, n.core->commit_index());
    }
    return max;
  }

  void Send(SimNode& from, Message msg) {
    InFlight f;
    if (msg.type == MessageType::kSnapshot) {
      ++result_.snapshots_sent;
      if (from.snapshot.index != msg.snapshot.index) {
        checker_.Fail(fmt::format("node {} sent snapshot {} but holds {}", from.id,
                                  msg.snapshot.index, from.snapshot.index));
      }
      f.snapshot_data = from.snapshot_data;
    }
    if (rng_.Chance(loss_per_mille_, 1000)) return;
    const int copies = rng_.Chance(dup_per_mille_, 1000) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      uint64_t at = now_ + 1 + rng_.Uniform(max_delay_);
      f.msg = msg;
      network_.emplace(std::make_pair(at, ++message_seq_), f);
    }
  }

  void DeliverDue() {
    while (!network_.empty() && network_.begin()->first.first <= now_) {
      InFlight f = std::move(network_.begin()->second);
      network_.erase(network_.begin());
      SimNode& to = nodes_[f.msg.to];
      if (!to.core || blocked_.count({f.msg.from, f.msg.to}) != 0) continue;
      // Every message crosses the wire encoding.
      auto decoded = DecodeMessage(EncodeMessage(f.msg));
      if (!decoded.ok()) {
        checker_.Fail("wire round trip failed: " + decoded.status().ToString());
        return;
      }
      if (f.snapshot_data) to.incoming_snapshot = f.snapshot_data;
      Status st = to.core->Step(std::move(decoded).value());
      if (!st.ok()) checker_.Fail("core rejected a well-formed message: " + st.ToString());
    }
  }

  void SyncDisks() {
    for (auto& [id, n] : nodes_) {
      if (!n.core || n.unsynced.empty() || !rng_.Chance(1, 2)) continue;
      for (WalOp& op : n.unsynced) {
        if (op.truncate) {
          while (!n.wal.empty() && n.wal.back().index > op.after) n.wal.pop_back();
        } else {
          n.wal.push_back(std::move(op.entry));
        }
      }
      n.unsynced.clear();
      if (!n.wal.empty()) n.core->AdvanceDurable(n.wal.back().index, n.wal.back().term);
    }
  }

  void MaybeCompact() {
    for (auto& [id, n] : nodes_) {
      if (!n.core || n.applied.size() < n.snapshot.index + 24 || !rng_.Chance(20, 1000)) continue;
      const Index index = n.applied.size();
      auto meta = n.core->SnapshotMetaAt(index);
      if (!meta.ok()) {
        checker_.Fail("SnapshotMetaAt failed: " + meta.status().ToString());
        return;
      }
      n.snapshot = *meta;
      n.snapshot_data = std::make_shared<const std::vector<Entry>>(n.applied);
      Status st = n.core->Compact(index);
      if (!st.ok()) checker_.Fail("Compact failed: " + st.ToString());
      while (!n.wal.empty() && n.wal.front().index <= index) n.wal.erase(n.wal.begin());
    }
  }

  void ProcessReadies() {
    for (auto& [id, n] : nodes_) {
      while (n.core && n.core->HasReady() && checker_.ok()) ProcessReady(n, n.core->TakeReady());
    }
  }

  void ProcessReady(SimNode& n, Ready rd) {
    if (rd.hard_state) n.hard_state = *rd.hard_state;  // fsync'd before any send
    if (rd.snapshot_to_install) {
      const SnapshotMeta& meta = *rd.snapshot_to_install;
      if (!n.incoming_snapshot || n.incoming_snapshot->size() != meta.index) {
        checker_.Fail(fmt::format("node {} asked to install a snapshot it never received", n.id));
        return;
      }
      // Installing replaces the state and the log atomically.
      n.snapshot = meta;
      n.snapshot_data = n.incoming_snapshot;
      n.applied = *n.incoming_snapshot;
      n.wal.clear();  // the log restarts after the snapshot
      n.unsynced.clear();
      for (const Entry& e : n.applied) checker_.OnApply(n.id, e);
      Status st = n.core->OnSnapshotInstalled(meta);
      if (!st.ok()) checker_.Fail("OnSnapshotInstalled: " + st.ToString());
    }
    if (rd.truncate_after) n.unsynced.push_back(WalOp{true, *rd.truncate_after, {}});
    for (Entry& e : rd.entries) {
      auto prev = n.core->log().TermAt(e.index - 1);
      checker_.OnPersist(n.id, e, prev.value_or(0), prev.has_value());
      n.unsynced.push_back(WalOp{false, 0, std::move(e)});
    }
    for (Message& m : rd.messages) Send(n, std::move(m));
    for (Entry& e : rd.committed_entries) {
      if (e.index <= n.applied.size()) continue;
      if (e.index != n.applied.size() + 1) {
        checker_.Fail(fmt::format("node {} got committed entry {} after applying {}", n.id, e.index,
                                  n.applied.size()));
        return;
      }
      checker_.OnApply(n.id, e);
      n.applied.push_back(std::move(e));
    }
    for (const Completion& c : rd.completions) {
      auto it = n.open_proposals.find({c.id.index, c.id.term});
      if (it == n.open_proposals.end()) {
        checker_.Fail(fmt::format("node {} completed unknown proposal {}", n.id, c.id.index));
        return;
      }
      if (c.outcome == ProposalOutcome::kSuccess && c.durability != Durability::kLeader) {
        checker_.OnAcknowledged(c.id.index, c.id.term, it->second);
      }
      n.open_proposals.erase(it);
    }
    for (const ReadResult& r : rd.reads) {
      auto it = n.open_reads.find(r.request_id);
      if (it == n.open_reads.end()) continue;
      if (r.ok) {
        checker_.OnRead(n.id, r.index, it->second);
        ++result_.reads;
      }
      n.open_reads.erase(it);
    }
    for (const Entry& e : rd.rolled_back) {
      checker_.OnRolledBack(n.id, e);
      ++result_.rolled_back;
    }
  }

  bool Converged() {
    SimNode* leader = Leader();
    if (!leader) return false;
    const Index last = leader->core->log().last_index();
    if (leader->core->commit_index() != last) return false;
    for (auto& [id, n] : nodes_) {
      if (!n.core || n.core->commit_index() != last || n.applied.size() != last) return false;
      if (!n.open_proposals.empty()) return false;
    }
    return true;
  }

  std::string Describe() {
    std::string out;
    for (auto& [id, n] : nodes_) {
      if (!n.core) {
        out += fmt::format("[{} down] ", id);
        continue;
      }
      out += fmt::format("[{} {} t{} last{} durable{} commit{} applied{} open{} unsynced{} wal{}] ",
                         id, RoleName(n.core->role()), n.core->term(), n.core->log().last_index(),
                         n.core->durable_index(), n.core->commit_index(), n.applied.size(),
                         n.open_proposals.size(), n.unsynced.size(),
                         n.wal.empty() ? 0 : n.wal.back().index);
      for (const auto& [key, payload] : n.open_proposals) {
        out += fmt::format("(open {}@{}) ", key.first, key.second);
      }
      if (n.core->IsLeader()) {
        for (const PeerStatus& p : n.core->GetStatus().peers) {
          out += fmt::format("(peer {} {} match{} next{} {} inflight{} ack-{}) ", p.id,
                             p.voter ? "voter" : "learner", p.match, p.next,
                             ProgressStateName(p.state), p.inflight_batches, p.ticks_since_ack);
        }
      }
    }
    return out;
  }

  SimOptions options_;
  SeededRandom rng_;
  InvariantChecker checker_;
  SimResult result_;
  std::map<NodeId, SimNode> nodes_;
  std::multimap<std::pair<uint64_t, uint64_t>, InFlight> network_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  uint64_t loss_per_mille_ = 0;
  uint64_t dup_per_mille_ = 0;
  uint64_t max_delay_ = 1;
  uint64_t now_ = 0;
  uint64_t message_seq_ = 0;
  uint64_t proposal_counter_ = 0;
  uint64_t read_counter_ = 0;
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) { return Simulation(options).Run(); }

std::string ReplayCommand(const SimOptions& o) {
  return fmt::format("build/sim_runner --seed {} --nodes {} --steps {}{}", o.seed, o.nodes, o.steps,
                     o.unsafe_skip_vote_log_check ? " --unsafe-skip-vote-log-check" : "");
}

}  // namespace tandem::sim
