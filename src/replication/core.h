// Core: the replication state machine of one node (Raft with pre-vote,
// check-quorum, pipelined appends, read index / lease, leadership transfer,
// learners and single-voter membership changes).
//
// The core does no I/O, reads no clock and draws no randomness of its own:
// time is Tick(), randomness comes from Config::random, the network and disk
// are the server's. It is not thread-safe; the server calls it from its one
// event loop.
//
// How the server drives it, each loop turn:
//   1. Feed inputs: Tick() from a timer every heartbeat interval / N, Step()
//      for each decoded peer message, Propose() for client writes,
//      ReadIndex() for linearizable reads, AdvanceDurable() when a WAL sync
//      completes, OnSnapshotInstalled() when a received snapshot is in place.
//   2. If HasReady(), take the Ready and process its fields in order:
//      persist hard_state (fsync) -> install snapshot_to_install ->
//      WAL truncate_after + append entries (sync may finish later) -> send
//      messages -> apply committed_entries -> deliver completions, reads,
//      rolled_back, soft_state, membership.
//   3. When the WAL append of entries up to (i, t) is durable, call
//      AdvanceDurable(i, t). Followers acknowledge only durable entries; the
//      leader counts itself toward a quorum only for its durable entries.
//
// Start-up: Create() with the hard state, the last snapshot's metadata (for
// a brand-new cluster: index 0, term 0 and the initial voters) and the WAL
// entries after it. After the server saves a snapshot of applied committed
// state at index i, it calls Compact(i) and may then drop WAL entries <= i.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "replication/message.h"
#include "replication/progress.h"
#include "replication/raft_log.h"
#include "replication/random.h"
#include "replication/ready.h"
#include "replication/types.h"
#include "util/result.h"
#include "util/status.h"

namespace tandem::replication {

struct Config {
  NodeId id = kNoNode;
  // A follower that hears nothing from a leader for a random number of ticks
  // in [election_ticks, 2*election_ticks) starts an election.
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;  // leader heartbeat interval
  bool pre_vote = true;
  // Leader steps down when it has not heard from a quorum for
  // election_ticks; followers ignore vote requests while they hear from a
  // leader. Required for lease reads.
  bool check_quorum = true;
  // Lease reads are served without a round trip while the leader heard
  // from a quorum within (election_ticks - lease_drift_ticks) ticks.
  uint32_t lease_drift_ticks = 2;
  size_t max_inflight_batches = 16;  // pipelined append batches per follower
  // A commit index that advanced with no new entries to carry it is sent on
  // its own (an empty append) only after this many ticks: under load the
  // next batch of entries carries it sooner, saving a message and its
  // answer per follower per batch. 0 = send at once.
  uint32_t commit_notify_ticks = 0;
  size_t max_entries_per_message = 4096;
  // Entries kept in memory: once their RaftLog::ResidentBytes() total
  // (payload + per-entry overhead) passes this, the oldest durable, applied
  // ones are evicted and read back through entry_loader when a lagging peer
  // needs them. Without a loader everything after the snapshot stays in
  // memory.
  size_t max_resident_log_bytes = 8u << 20;
  EntryLoader entry_loader;
  size_t max_bytes_per_message = 1 << 20;
  RandomSource* random = nullptr;  // required; not owned
  // TEST ONLY: grant votes without the "candidate log at least as up to
  // date" check. Used to show the simulation detects safety violations.
  bool unsafe_skip_vote_log_check = false;
};

// What the server read from disk at start-up.
struct PersistedState {
  HardState hard_state;
  SnapshotMeta snapshot;       // index 0 / term 0 for a fresh node
  std::vector<Entry> entries;  // contiguous; those <= snapshot.index ignored
};

enum class ReadMode : uint8_t {
  kReadIndex,  // confirm leadership with a quorum round trip
  kLease,      // answer at once while the lease holds, else as kReadIndex
};

struct PeerStatus {
  NodeId id = kNoNode;
  bool voter = false;
  Index match = 0;
  Index next = 0;
  ProgressState state = ProgressState::kProbe;
  uint64_t ticks_since_ack = 0;
  size_t inflight_batches = 0;
};

struct CoreStatus {
  NodeId id = kNoNode;
  Role role = Role::kFollower;
  Term term = 0;
  NodeId vote = kNoNode;
  NodeId leader = kNoNode;
  Index commit = 0;
  Index durable = 0;
  Index last_index = 0;
  Term last_term = 0;
  Index snapshot_index = 0;
  NodeId transfer_target = kNoNode;
  std::string last_election_reason;  // why the last election / step-down happened
  Membership membership;
  std::vector<PeerStatus> peers;  // leader only
};

class Core {
 public:
  // Validates `config` and `state` (contiguous entries, terms not
  // decreasing, membership valid).
  static Result<std::unique_ptr<Core>> Create(const Config& config, PersistedState state);

  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Advances logical time by one tick.
  void Tick();
  // Advances logical time by `count` ticks at once (the owner's loop was
  // stalled). Leases expire as with single ticks, but a leader checks its
  // quorum at most once in the burst and a follower does not campaign in
  // it: the messages peers sent during the stall have not been read yet,
  // so acting on their silence would depose a healthy leader. A follower
  // whose timeout passed campaigns at the next call if it still has heard
  // nothing. (A burst of at most half an election timeout is ordinary
  // timer lateness: followers campaign in it as with single ticks.)
  void TickMany(uint64_t count);

  // Handles a message from a peer. Messages addressed elsewhere or from
  // non-members of older terms are dropped. Errors are InvalidArgument for a
  // malformed message; the core state is unchanged then.
  Status Step(Message msg);

  // Leader only: appends `payload` to the log at once and returns its
  // (index, term). A Completion follows when it reaches `durability`, or
  // with kOutcomeUnknown if leadership is lost first. Unavailable when not
  // leader or while a leadership transfer runs.
  Result<ProposalId> Propose(Payload payload, Durability durability);
  Result<ProposalId> Propose(std::string payload, Durability durability);

  // Leader only: proposes a new membership (one voter added or removed at a
  // time; learners freely). It takes effect on each node as soon as the
  // entry is in its log. Busy while an earlier change is uncommitted.
  Result<ProposalId> ProposeMembership(Membership next, Durability durability);

  // Leader only: registers a linearizable read; a ReadResult with the same
  // id follows (ok=false if leadership is lost first).
  Status ReadIndex(uint64_t request_id, ReadMode mode);
  // Leader only: true when a kLease read issued now would be answered at
  // once (a quorum acknowledged us within the lease and an entry of this
  // term is committed): the caller may serve the read without a ReadIndex.
  // Tick first if time passed, as for any lease decision.
  bool CanReadUnderLease() const;

  // Leader only: hands leadership to `target` (a voter): stops accepting
  // proposals, brings the target up to date, then tells it to campaign.
  // Abandoned after election_ticks.
  Status TransferLeadership(NodeId target);

  // The server's WAL holds every entry up to (index, term) durably. Stale
  // reports (the entry was replaced since) are ignored.
  void AdvanceDurable(Index index, Term term);

  // The snapshot announced in Ready::snapshot_to_install is in place.
  Status OnSnapshotInstalled(const SnapshotMeta& meta);
  // Whether installing `meta` (announced earlier) is still wanted: it is
  // the install pending and appends have not committed past it since. A
  // server that installs later than the Ready that announced it asks
  // first: installing an overtaken snapshot would roll its state back.
  bool InstallStillWanted(const SnapshotMeta& meta) const {
    return pending_install_ && pending_install_->index == meta.index &&
           pending_install_->term == meta.term && meta.index > commit_;
  }

  // Metadata (term and membership) for a snapshot of the state at
  // committed `index` (snapshot_index <= index <= commit index). Save it
  // with the snapshot, then call Compact(index).
  Result<SnapshotMeta> SnapshotMetaAt(Index index) const;

  // The server saved a snapshot of its state at committed `index`; the core
  // forgets entries <= index (a follower that needs them gets a snapshot).
  Status Compact(Index index);

  bool HasReady() const;
  // Collects pending outputs (see Ready). Call HasReady() first or accept an
  // empty Ready.
  Ready TakeReady();

  CoreStatus GetStatus() const;
  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  Index commit_index() const { return commit_; }
  // Follower: the leader's commit index as its latest append in this term
  // said (not capped at our log, unlike commit_index()); 0 if none yet. How
  // far this node is behind the cluster.
  Index leader_commit_index() const { return leader_commit_; }
  Index durable_index() const { return durable_; }
  const RaftLog& log() const { return log_; }
  const Membership& membership() const { return membership_; }
  bool IsLeader() const { return role_ == Role::kLeader; }
  // The node a leadership transfer in progress hands over to; kNoNode if none.
  NodeId transfer_target() const { return transfer_target_; }

 private:
  struct PendingProposal {
    ProposalId id;
  };
  struct PendingRead {
    uint64_t request_id;
    uint64_t seq;  // confirmed once a quorum echoed a round >= seq
    Index index;   // 0 until the leader has committed an entry of its term
  };

  explicit Core(const Config& config);
  Status Load(PersistedState state);

  // core.cc: role changes and shared helpers.
  void BecomeFollower(Term term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void ResetTimers();
  void Send(Message msg);
  void AppendToLog(Entry entry);
  void TruncateLogAfter(Index index);
  void ApplyMembership(const Membership& membership);
  Status AppendMembershipEntry(const Entry& entry);
  bool IsPromotable() const { return membership_.IsVoter(config_.id); }
  Result<ProposalId> AppendProposal(EntryType type, Payload payload, Durability durability);
  void FailPendingOnStepDown();

  // election.cc
  void TickElection();
  void Campaign(bool pre_vote, bool forced);
  void HandleVoteRequest(const Message& msg);
  void HandleVoteResponse(const Message& msg);
  bool InLeaderLease() const;

  // replication_leader.cc
  void TickLeader();
  // Sends each peer the entries it lacks; `empty` says when a peer with
  // nothing new still gets an (empty) append.
  enum class EmptyAppend { kNever, kIfCommitUnsent, kAlways };
  void BroadcastAppends(EmptyAppend empty);
  bool SendAppend(NodeId peer, Progress& pr, bool allow_empty);
  void SendSnapshot(NodeId peer, Progress& pr);
  void BroadcastHeartbeat();
  void HandleAppendResponse(const Message& msg);
  void HandleHeartbeatResponse(const Message& msg);
  void NoteAck(Progress& pr, const Message& msg);
  void MaybeCommit();
  void CompleteProposals();
  bool QuorumActive();
  void SyncProgressWithMembership();

  // replication_follower.cc
  void HandleAppend(Message msg);
  void HandleHeartbeat(const Message& msg);
  void HandleSnapshot(const Message& msg);
  void SendAppendAck(NodeId to);
  void RejectAppend(const Message& msg);
  void ReportEntriesReplacedBySnapshot(const SnapshotMeta& snap);

  // read_index.cc
  void AdvanceReads();
  uint64_t QuorumAckedSeq() const;
  bool LeaseValid() const;

  // transfer.cc
  void TickTransfer();
  void MaybeSendTimeoutNow(NodeId peer, const Progress& pr);
  void HandleTimeoutNow(const Message& msg);

  Config config_;
  // Persistent state (with the log).
  Term term_ = 0;
  NodeId vote_ = kNoNode;
  RaftLog log_;

  // Volatile state.
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  Index commit_ = 0;
  Index leader_commit_ = 0;    // follower: msg.commit of the newest append this term
  Index durable_ = 0;
  Index last_verified_ = 0;    // follower: prefix known to equal the leader's log
  Index acked_to_leader_ = 0;  // follower: last match reported
  // follower: the newest append whose answer waits for its entries to be
  // durable (its seq and sent_tick go out with that answer).
  struct DeferredAck {
    Term term = 0;
    NodeId leader = kNoNode;
    uint64_t seq = 0;
    uint64_t sent_tick = 0;
  };
  std::optional<DeferredAck> deferred_ack_;
  uint64_t now_ = 0;           // ticks since start
  uint64_t election_elapsed_ = 0;
  uint64_t heartbeat_elapsed_ = 0;
  uint64_t randomized_timeout_ = 0;
  std::map<NodeId, bool> votes_;
  std::string last_election_reason_;

  // Membership in force and the config entries after the snapshot.
  Membership membership_;
  Membership snapshot_membership_;
  std::vector<std::pair<Index, Membership>> membership_history_;

  // Leader state.
  std::map<NodeId, Progress> progress_;
  std::deque<PendingProposal> pending_[3];  // indexed by Durability
  std::deque<PendingRead> pending_reads_;
  uint64_t seq_ = 0;
  bool broadcast_pending_ = false;
  uint32_t commit_unsent_ticks_ = 0;
  int burst_quorum_checks_ = -1;  // quorum checks left in a TickMany burst; -1 = none running
  bool stall_burst_ = false;      // in a TickMany burst longer than half an election timeout
  NodeId transfer_target_ = kNoNode;
  uint64_t transfer_elapsed_ = 0;
  bool timeout_now_sent_ = false;
  uint64_t lease_blocked_until_ = 0;
  std::set<Term> led_terms_;  // terms this process led (rollback detection)

  // Follower snapshot install in progress.
  std::optional<SnapshotMeta> pending_install_;

  // Output staging.
  std::optional<Index> truncate_after_;
  Index persist_from_ = 1;      // first entry not yet handed to the server
  Index committed_handed_ = 0;  // last committed entry handed out
  HardState last_hard_state_;
  SoftState last_soft_state_;
  bool membership_changed_ = false;
  std::optional<SnapshotMeta> snapshot_to_install_;
  std::vector<Message> msgs_;
  std::vector<Completion> completions_;
  std::vector<ReadResult> reads_;
  std::vector<Entry> rolled_back_;
  std::vector<Entry> maybe_rolled_back_;
};

}  // namespace tandem::replication
