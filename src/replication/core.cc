// Core: construction, input dispatch, role changes, log bookkeeping and the
// assembly of Ready. Elections, leader and follower replication, reads and
// transfer live in their own files.
#include "replication/core.h"

#include <algorithm>
#include <cassert>

#include "replication/membership.h"

namespace tandem::replication {

Core::Core(const Config& config) : config_(config) {}

Result<std::unique_ptr<Core>> Core::Create(const Config& config, PersistedState state) {
  if (config.id == kNoNode) return Status::InvalidArgument("node id must be positive");
  if (config.random == nullptr) return Status::InvalidArgument("a random source is required");
  if (config.election_ticks < 2 || config.heartbeat_ticks == 0 ||
      config.heartbeat_ticks >= config.election_ticks) {
    return Status::InvalidArgument(
        "need 0 < heartbeat_ticks < election_ticks, election_ticks >= 2");
  }
  if (config.lease_drift_ticks >= config.election_ticks) {
    return Status::InvalidArgument("lease_drift_ticks must be below election_ticks");
  }
  if (config.max_inflight_batches == 0 || config.max_entries_per_message == 0) {
    return Status::InvalidArgument("inflight window and batch size must be positive");
  }
  std::unique_ptr<Core> core(new Core(config));
  TANDEM_RETURN_IF_ERROR(core->Load(std::move(state)));
  core->log_.set_loader(config.entry_loader);
  return core;
}

Status Core::Load(PersistedState state) {
  SnapshotMeta& snap = state.snapshot;
  if (!snap.membership.voters.empty() || !snap.membership.learners.empty()) {
    TANDEM_RETURN_IF_ERROR(NormalizeMembership(&snap.membership));
  }
  if (state.hard_state.term < snap.term) {
    return Status::Corruption("hard state term is older than the snapshot term");
  }
  log_.Reset(snap.index, snap.term);
  snapshot_membership_ = snap.membership;
  membership_ = snap.membership;
  term_ = state.hard_state.term;
  vote_ = state.hard_state.vote;
  for (Entry& e : state.entries) {
    if (e.index <= snap.index) continue;
    if (e.index != log_.last_index() + 1) return Status::Corruption("log entries not contiguous");
    if (e.term < log_.last_term()) {
      return Status::Corruption("log entry " + std::to_string(e.index) +
                                " has a term below the one before it");
    }
    if (e.term > term_) {
      return Status::Corruption("log entry " + std::to_string(e.index) +
                                " has a term above the hard state term");
    }
    Entry entry = e;
    log_.Append(std::move(entry));
    if (e.type == EntryType::kMembership) TANDEM_RETURN_IF_ERROR(AppendMembershipEntry(e));
  }
  membership_changed_ = false;
  commit_ = snap.index;
  committed_handed_ = snap.index;
  durable_ = log_.last_index();
  persist_from_ = log_.last_index() + 1;
  last_hard_state_ = HardState{term_, vote_};
  now_ = 1;
  ResetTimers();
  last_soft_state_ = SoftState{role_, leader_, term_};
  return Status::Ok();
}

void Core::ResetTimers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_timeout_ = config_.election_ticks + config_.random->Uniform(config_.election_ticks);
}

void Core::TickMany(uint64_t count) {
  burst_quorum_checks_ = 1;
  stall_burst_ = count > config_.election_ticks / 2;
  for (uint64_t i = 0; i < count; ++i) Tick();
  burst_quorum_checks_ = -1;
  stall_burst_ = false;
}

void Core::Tick() {
  ++now_;
  // Entries dropped by a compaction are freed a slice per tick.
  constexpr size_t kReleasePerTick = 16384;
  log_.ReleaseCompacted(kReleasePerTick);
  // Durable and handed to the state machine: readable from storage. A
  // quarter below the budget, so eviction runs now and then, not per tick.
  if (log_.resident_bytes() > config_.max_resident_log_bytes) {
    log_.EvictOldest(config_.max_resident_log_bytes / 4 * 3, std::min(durable_, committed_handed_));
  }
  if (role_ == Role::kLeader) {
    TickLeader();
  } else {
    TickElection();
  }
}

namespace {
bool IsLeaderMessage(MessageType t) {
  return t == MessageType::kAppend || t == MessageType::kHeartbeat || t == MessageType::kSnapshot ||
         t == MessageType::kTimeoutNow;
}

Status ValidateMessage(const Message& m, NodeId self) {
  if (m.to != self) return Status::InvalidArgument("message addressed to another node");
  if (m.from == kNoNode || m.from == self) return Status::InvalidArgument("bad message sender");
  if (!m.entries.empty()) {
    if (m.type != MessageType::kAppend) return Status::InvalidArgument("entries on a non-append");
    Term prev_term = m.log_term;
    for (size_t i = 0; i < m.entries.size(); ++i) {
      const Entry& e = m.entries[i];
      if (e.index != m.index + 1 + i) return Status::InvalidArgument("entries not contiguous");
      if (e.term < prev_term || e.term > m.term) {
        return Status::InvalidArgument("entry terms out of order");
      }
      prev_term = e.term;
    }
  }
  return Status::Ok();
}
}  // namespace

Status Core::Step(Message msg) {
  TANDEM_RETURN_IF_ERROR(ValidateMessage(msg, config_.id));
  const MessageType type = msg.type;
  if (msg.term > term_) {
    if (type == MessageType::kPreVote || type == MessageType::kVote) {
      if (!msg.force && InLeaderLease()) return Status::Ok();  // a leader is alive: ignore
    }
    if (type == MessageType::kPreVote || (type == MessageType::kPreVoteResponse && !msg.reject)) {
      // Pre-vote traffic never changes terms.
    } else if (IsLeaderMessage(type)) {
      BecomeFollower(msg.term, msg.from);
    } else {
      BecomeFollower(msg.term, kNoNode);
    }
  } else if (msg.term < term_) {
    if (type == MessageType::kAppend || type == MessageType::kHeartbeat ||
        type == MessageType::kSnapshot) {
      // Tell the stale leader about the newer term so it steps down.
      Message reply;
      reply.type = MessageType::kAppendResponse;
      reply.to = msg.from;
      reply.term = term_;
      reply.reject = true;
      Send(std::move(reply));
    } else if (type == MessageType::kPreVote) {
      Message reply;
      reply.type = MessageType::kPreVoteResponse;
      reply.to = msg.from;
      reply.term = term_;
      reply.reject = true;
      Send(std::move(reply));
    }
    return Status::Ok();
  }

  switch (type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      HandleVoteRequest(msg);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      HandleVoteResponse(msg);
      break;
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
    case MessageType::kTimeoutNow:
      if (role_ == Role::kLeader) break;  // impossible: one leader per term
      if (role_ != Role::kFollower) BecomeFollower(term_, msg.from);
      leader_ = msg.from;
      election_elapsed_ = 0;
      if (type == MessageType::kAppend) {
        HandleAppend(std::move(msg));
      } else if (type == MessageType::kHeartbeat) {
        HandleHeartbeat(msg);
      } else if (type == MessageType::kSnapshot) {
        HandleSnapshot(msg);
      } else {
        HandleTimeoutNow(msg);
      }
      break;
    case MessageType::kAppendResponse:
      if (role_ == Role::kLeader) HandleAppendResponse(msg);
      break;
    case MessageType::kHeartbeatResponse:
      if (role_ == Role::kLeader) HandleHeartbeatResponse(msg);
      break;
  }
  return Status::Ok();
}

void Core::BecomeFollower(Term term, NodeId leader) {
  const bool was_leader = role_ == Role::kLeader;
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
    last_verified_ = 0;
    acked_to_leader_ = 0;
    leader_commit_ = 0;
  }
  role_ = Role::kFollower;
  leader_ = leader;
  if (was_leader) {
    FailPendingOnStepDown();
    progress_.clear();
    transfer_target_ = kNoNode;
    broadcast_pending_ = false;
  }
  ResetTimers();
}

void Core::BecomePreCandidate() {
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  ResetTimers();
}

void Core::BecomeCandidate() {
  term_ += 1;
  vote_ = config_.id;
  role_ = Role::kCandidate;
  leader_ = kNoNode;
  last_verified_ = 0;
  acked_to_leader_ = 0;
  leader_commit_ = 0;
  ResetTimers();
}

void Core::BecomeLeader() {
  role_ = Role::kLeader;
  leader_ = config_.id;
  led_terms_.insert(term_);
  progress_.clear();
  SyncProgressWithMembership();
  for (auto& [id, pr] : progress_) pr.recent_active = true;
  transfer_target_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  Entry noop;
  noop.term = term_;
  noop.index = log_.last_index() + 1;
  noop.type = EntryType::kNoop;
  AppendToLog(std::move(noop));
  BroadcastAppends(EmptyAppend::kAlways);
  MaybeCommit();  // a single voter commits once durable; harmless otherwise
}

void Core::FailPendingOnStepDown() {
  for (int d = 0; d < 3; ++d) {
    for (const PendingProposal& p : pending_[d]) {
      completions_.push_back(
          Completion{p.id, static_cast<Durability>(d), ProposalOutcome::kOutcomeUnknown});
    }
    pending_[d].clear();
  }
  for (const PendingRead& r : pending_reads_) reads_.push_back(ReadResult{r.request_id, false, 0});
  pending_reads_.clear();
}

void Core::Send(Message msg) {
  msg.from = config_.id;
  if (msg.term == 0) msg.term = term_;
  msgs_.push_back(std::move(msg));
}

void Core::AppendToLog(Entry entry) {
  const bool membership = entry.type == EntryType::kMembership;
  Entry copy_for_membership;
  if (membership) copy_for_membership = entry;
  log_.Append(std::move(entry));
  if (membership) {
    // A leader encodes the payload itself; a follower's leader validated
    // it. A bad payload here is a corrupted log: keep the old membership.
    (void)AppendMembershipEntry(copy_for_membership);
  }
}

Status Core::AppendMembershipEntry(const Entry& entry) {
  Result<Membership> decoded = DecodeMembership(entry.data());
  if (!decoded.ok()) return decoded.status();
  membership_history_.emplace_back(entry.index, decoded.value());
  ApplyMembership(decoded.value());
  return Status::Ok();
}

void Core::ApplyMembership(const Membership& membership) {
  if (membership == membership_) return;
  membership_ = membership;
  membership_changed_ = true;
  if (role_ == Role::kLeader) {
    SyncProgressWithMembership();
    // A smaller voting set may already hold a quorum (or every voter).
    MaybeCommit();
    CompleteProposals();
  }
}

void Core::TruncateLogAfter(Index index) {
  assert(index >= commit_);
  for (Index i = index + 1; i <= log_.last_index(); ++i) {
    const Entry& e = log_.At(i);
    if (led_terms_.count(e.term) != 0) rolled_back_.push_back(e);
  }
  log_.TruncateAfter(index);
  if (index + 1 < persist_from_) {
    truncate_after_ = std::min(truncate_after_.value_or(index), index);
    persist_from_ = index + 1;
  }
  durable_ = std::min(durable_, index);
  last_verified_ = std::min(last_verified_, index);
  bool reverted = false;
  while (!membership_history_.empty() && membership_history_.back().first > index) {
    membership_history_.pop_back();
    reverted = true;
  }
  if (reverted) {
    ApplyMembership(membership_history_.empty() ? snapshot_membership_
                                                : membership_history_.back().second);
  }
}

Result<ProposalId> Core::AppendProposal(EntryType type, Payload payload, Durability durability) {
  Entry e;
  e.term = term_;
  e.index = log_.last_index() + 1;
  e.type = type;
  e.payload = std::move(payload);
  ProposalId id{e.index, e.term};
  AppendToLog(std::move(e));
  pending_[static_cast<int>(durability)].push_back(PendingProposal{id});
  broadcast_pending_ = true;
  return id;
}

Result<ProposalId> Core::Propose(Payload payload, Durability durability) {
  if (role_ != Role::kLeader) return Status::Unavailable("not the leader");
  if (transfer_target_ != kNoNode) return Status::Unavailable("leadership transfer in progress");
  return AppendProposal(EntryType::kNormal, std::move(payload), durability);
}

Result<ProposalId> Core::Propose(std::string payload, Durability durability) {
  return Propose(std::make_shared<const std::string>(std::move(payload)), durability);
}

Result<ProposalId> Core::ProposeMembership(Membership next, Durability durability) {
  if (role_ != Role::kLeader) return Status::Unavailable("not the leader");
  if (transfer_target_ != kNoNode) return Status::Unavailable("leadership transfer in progress");
  TANDEM_RETURN_IF_ERROR(NormalizeMembership(&next));
  const Index config_index =
      membership_history_.empty() ? log_.snapshot_index() : membership_history_.back().first;
  if (config_index > commit_) return Status::Busy("a membership change is still uncommitted");
  if (log_.TermAt(commit_) != term_) {
    return Status::Unavailable("leader has not committed an entry of its term yet");
  }
  TANDEM_RETURN_IF_ERROR(ValidateMembershipChange(membership_, next));
  return AppendProposal(EntryType::kMembership,
                        std::make_shared<const std::string>(EncodeMembership(next)), durability);
}

void Core::AdvanceDurable(Index index, Term term) {
  if (index <= durable_ || index >= persist_from_ || log_.TermAt(index) != term) return;
  durable_ = index;
  if (role_ == Role::kLeader) {
    MaybeCommit();
    CompleteProposals();
  } else if (leader_ != kNoNode &&
             (std::min(durable_, last_verified_) > acked_to_leader_ || deferred_ack_)) {
    SendAppendAck(leader_);
  }
}

Result<SnapshotMeta> Core::SnapshotMetaAt(Index index) const {
  if (index < log_.snapshot_index() || index > commit_) {
    return Status::InvalidArgument("snapshot index must be committed and not compacted");
  }
  SnapshotMeta meta;
  meta.index = index;
  meta.term = *log_.TermAt(index);
  meta.membership = snapshot_membership_;
  for (const auto& [config_index, membership] : membership_history_) {
    if (config_index > index) break;
    meta.membership = membership;
  }
  return meta;
}

Status Core::Compact(Index index) {
  if (index <= log_.snapshot_index()) return Status::Ok();
  if (index > commit_) return Status::InvalidArgument("cannot compact beyond the commit index");
  const Term term = *log_.TermAt(index);
  Membership at_index = snapshot_membership_;
  size_t keep_from = 0;
  for (size_t i = 0; i < membership_history_.size(); ++i) {
    if (membership_history_[i].first > index) break;
    at_index = membership_history_[i].second;
    keep_from = i + 1;
  }
  membership_history_.erase(membership_history_.begin(), membership_history_.begin() + keep_from);
  snapshot_membership_ = std::move(at_index);
  log_.CompactTo(index, term);
  persist_from_ = std::max(persist_from_, index + 1);
  committed_handed_ = std::max(committed_handed_, index);
  if (index > durable_) {  // the saved snapshot makes these entries durable
    durable_ = index;
    MaybeCommit();
    CompleteProposals();
  }
  return Status::Ok();
}

bool Core::HasReady() const {
  return (role_ == Role::kLeader && broadcast_pending_) || !msgs_.empty() ||
         HardState{term_, vote_} != last_hard_state_ || snapshot_to_install_ || truncate_after_ ||
         persist_from_ <= log_.last_index() || committed_handed_ < commit_ ||
         !completions_.empty() || !reads_.empty() || !rolled_back_.empty() ||
         !maybe_rolled_back_.empty() || SoftState{role_, leader_, term_} != last_soft_state_ ||
         membership_changed_;
}

Ready Core::TakeReady() {
  if (role_ == Role::kLeader && broadcast_pending_) {
    broadcast_pending_ = false;
    // New entries go out at once, carrying the commit index. A commit index
    // alone waits for commit_notify_ticks (see Config): the next batch
    // usually carries it first.
    const bool notify_commit = commit_unsent_ticks_ >= config_.commit_notify_ticks;
    BroadcastAppends(notify_commit ? EmptyAppend::kIfCommitUnsent : EmptyAppend::kNever);
    if (notify_commit) commit_unsent_ticks_ = 0;
  }
  Ready rd;
  HardState hs{term_, vote_};
  if (hs != last_hard_state_) {
    rd.hard_state = hs;
    last_hard_state_ = hs;
  }
  rd.snapshot_to_install = std::move(snapshot_to_install_);
  snapshot_to_install_.reset();
  // WAL work waits while a snapshot is being installed: the install empties
  // the WAL and OnSnapshotInstalled decides what to write again.
  const Index last = log_.last_index();
  if (!rd.snapshot_to_install) {
    rd.truncate_after = truncate_after_;
    truncate_after_.reset();
    if (persist_from_ <= last) {
      rd.entries.reserve(last - persist_from_ + 1);
      for (Index i = persist_from_; i <= last; ++i) rd.entries.push_back(log_.At(i));
      persist_from_ = last + 1;
    }
  }
  rd.messages.swap(msgs_);
  rd.commit_index = commit_;
  committed_handed_ = std::max(committed_handed_, log_.snapshot_index());
  if (committed_handed_ < commit_) {
    rd.committed_entries.reserve(commit_ - committed_handed_);
    for (Index i = committed_handed_ + 1; i <= commit_; ++i) {
      rd.committed_entries.push_back(log_.At(i));
    }
    committed_handed_ = commit_;
  }
  rd.completions.swap(completions_);
  rd.reads.swap(reads_);
  rd.rolled_back.swap(rolled_back_);
  rd.maybe_rolled_back.swap(maybe_rolled_back_);
  SoftState ss{role_, leader_, term_};
  if (ss != last_soft_state_) {
    rd.soft_state = ss;
    last_soft_state_ = ss;
  }
  if (membership_changed_) {
    rd.membership = membership_;
    membership_changed_ = false;
  }
  return rd;
}

CoreStatus Core::GetStatus() const {
  CoreStatus s;
  s.id = config_.id;
  s.role = role_;
  s.term = term_;
  s.vote = vote_;
  s.leader = leader_;
  s.commit = commit_;
  s.durable = durable_;
  s.last_index = log_.last_index();
  s.last_term = log_.last_term();
  s.snapshot_index = log_.snapshot_index();
  s.transfer_target = transfer_target_;
  s.last_election_reason = last_election_reason_;
  s.membership = membership_;
  for (const auto& [id, pr] : progress_) {
    PeerStatus p;
    p.id = id;
    p.voter = membership_.IsVoter(id);
    p.match = pr.match;
    p.next = pr.next;
    p.state = pr.state;
    p.ticks_since_ack = now_ - pr.last_ack_tick;
    p.inflight_batches = pr.inflight.count();
    s.peers.push_back(p);
  }
  return s;
}

}  // namespace tandem::replication
