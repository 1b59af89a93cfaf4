// Leader-side replication: heartbeats, pipelined appends with fast back-off,
// snapshots for followers that fell behind the compacted prefix, commit by a
// quorum of the current term, proposal completions and check-quorum.
#include <algorithm>

#include "replication/core.h"

namespace tandem::replication {

const char* ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

void Core::TickLeader() {
  ++election_elapsed_;
  ++heartbeat_elapsed_;
  for (auto& [id, pr] : progress_) {
    if (pr.state == ProgressState::kSnapshot && ++pr.snapshot_ticks > 2 * config_.election_ticks) {
      pr.BecomeProbe();  // the snapshot was lost or failed: start over
    }
  }
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    const bool may_check = burst_quorum_checks_ != 0;
    if (burst_quorum_checks_ > 0) --burst_quorum_checks_;
    if (config_.check_quorum && may_check && !QuorumActive()) {
      last_election_reason_ = "check-quorum: stepped down, lost contact with a majority";
      BecomeFollower(term_, kNoNode);
      return;
    }
  }
  TickTransfer();
  bool commit_unsent = false;
  for (const auto& [id, pr] : progress_) {
    commit_unsent |= pr.commit_sent < commit_ && pr.state == ProgressState::kReplicate;
  }
  if (!commit_unsent) {
    commit_unsent_ticks_ = 0;
  } else if (++commit_unsent_ticks_ >= config_.commit_notify_ticks) {
    broadcast_pending_ = true;  // TakeReady sends the commit index alone
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

bool Core::QuorumActive() {
  size_t active = membership_.IsVoter(config_.id) ? 1 : 0;
  for (auto& [id, pr] : progress_) {
    if (pr.recent_active && membership_.IsVoter(id)) ++active;
    pr.recent_active = false;
  }
  return active >= membership_.Quorum();
}

void Core::SyncProgressWithMembership() {
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = membership_.Contains(it->first) ? std::next(it) : progress_.erase(it);
  }
  auto add = [&](NodeId id) {
    if (id == config_.id || progress_.count(id) != 0) return;
    auto [it, inserted] = progress_.emplace(id, Progress(config_.max_inflight_batches));
    it->second.next = log_.last_index() + 1;
    it->second.recent_active = true;
  };
  for (NodeId id : membership_.voters) add(id);
  for (NodeId id : membership_.learners) add(id);
}

void Core::BroadcastAppends(EmptyAppend empty) {
  for (auto& [id, pr] : progress_) {
    const bool allow_empty = empty == EmptyAppend::kAlways ||
                             (empty == EmptyAppend::kIfCommitUnsent && pr.commit_sent < commit_);
    if (!SendAppend(id, pr, allow_empty)) continue;
    while (SendAppend(id, pr, /*allow_empty=*/false)) {
    }
  }
}

bool Core::SendAppend(NodeId peer, Progress& pr, bool allow_empty) {
  if (pr.state == ProgressState::kSnapshot) return false;
  if (pr.state == ProgressState::kProbe && pr.probe_sent) return false;
  if (pr.state == ProgressState::kReplicate && pr.inflight.full()) return false;
  const Index prev = pr.next - 1;
  const std::optional<Term> prev_term = log_.TermAt(prev);
  if (!prev_term) {
    SendSnapshot(peer, pr);
    return false;
  }
  const Index last = log_.last_index();
  if (pr.next > last && !allow_empty) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = peer;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = commit_;
  pr.commit_sent = commit_;
  m.seq = seq_;
  m.sent_tick = now_;
  if (pr.next <= last) {
    // A storage error leaves the append empty: it still probes, and the
    // entries are sent on a later try.
    Status st = log_.Slice(pr.next, last, config_.max_entries_per_message,
                           config_.max_bytes_per_message, &m.entries);
    if (!st.ok()) m.entries.clear();
  }
  if (pr.state == ProgressState::kReplicate && !m.entries.empty()) {
    pr.next = m.entries.back().index + 1;
    pr.inflight.Add(pr.next - 1);
  } else if (pr.state == ProgressState::kProbe) {
    pr.probe_sent = true;
  }
  const bool sent_entries = !m.entries.empty();
  Send(std::move(m));
  return sent_entries && pr.state == ProgressState::kReplicate;
}

void Core::SendSnapshot(NodeId peer, Progress& pr) {
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = peer;
  m.snapshot.index = log_.snapshot_index();
  m.snapshot.term = log_.snapshot_term();
  m.snapshot.membership = snapshot_membership_;
  pr.BecomeSnapshot(m.snapshot.index);
  Send(std::move(m));
}

void Core::BroadcastHeartbeat() {
  for (auto& [id, pr] : progress_) {
    if (pr.state == ProgressState::kReplicate && !pr.mark_pending) {
      pr.mark_pending = true;
      pr.sent_mark = pr.next - 1;
      pr.sent_mark_tick = now_;
    }
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = id;
    m.commit = std::min(pr.match, commit_);
    m.seq = seq_;
    m.sent_tick = now_;
    Send(std::move(m));
  }
}

void Core::NoteAck(Progress& pr, const Message& msg) {
  pr.recent_active = true;
  pr.last_ack_tick = now_;
  pr.acked_seq = std::max(pr.acked_seq, msg.seq);
  pr.acked_sent_tick = std::max(pr.acked_sent_tick, msg.sent_tick);
}

void Core::HandleAppendResponse(const Message& msg) {
  auto it = progress_.find(msg.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  NoteAck(pr, msg);
  if (msg.reject) {
    if (msg.index == 0 && msg.hint == 0 && msg.log_term == 0) return;  // stale-term notice
    if (msg.index >= pr.match && msg.hint < pr.match) {
      // The follower's log now ends before what it once acknowledged: it
      // lost its data (restarted with an empty data dir). Only a fresh
      // rejection can say so (older ones carry an index below match), so
      // start over from where its log ends.
      pr.match = msg.hint;
      if (pr.state != ProgressState::kProbe) pr.BecomeProbe();
      pr.next = msg.index + 1;
    }
    if (pr.state == ProgressState::kReplicate) {
      if (msg.index <= pr.match) return;  // stale
      pr.BecomeProbe();
    } else if (pr.state == ProgressState::kProbe) {
      if (msg.index != pr.next - 1) return;  // answer to an older probe
    } else {
      return;
    }
    // Fast back-off: skip every index whose term cannot match the hint.
    Index back_to = msg.hint >= log_.snapshot_index()
                        ? log_.FindConflictHint(msg.hint, msg.log_term)
                        : msg.hint;
    pr.next = std::max(pr.match + 1, std::min(msg.index, back_to + 1));
    pr.probe_sent = false;
    SendAppend(msg.from, pr, /*allow_empty=*/true);
    return;
  }
  bool advanced = false;
  if (msg.index > pr.match) {
    pr.match = msg.index;
    advanced = true;
  }
  const Index verified = std::max(msg.hint, msg.index);
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate(std::max(verified, pr.match) + 1);
      break;
    case ProgressState::kReplicate:
      pr.inflight.FreeUpTo(verified);
      if (pr.next <= verified) pr.next = verified + 1;
      break;
    case ProgressState::kSnapshot:
      if (verified >= pr.pending_snapshot) pr.BecomeReplicate(verified + 1);
      break;
  }
  if (advanced) {
    MaybeCommit();
    CompleteProposals();
  }
  AdvanceReads();
  if (role_ != Role::kLeader) return;  // a committed removal of ourselves
  MaybeSendTimeoutNow(msg.from, pr);
  while (SendAppend(msg.from, pr, /*allow_empty=*/false)) {
  }
}

void Core::HandleHeartbeatResponse(const Message& msg) {
  auto it = progress_.find(msg.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  NoteAck(pr, msg);
  AdvanceReads();
  // The response repeats the follower's durable match (an earlier
  // acknowledgement may have been lost) and how far its log is verified.
  if (msg.index > pr.match && msg.index <= log_.last_index()) {
    pr.match = msg.index;
    MaybeCommit();
    CompleteProposals();
    if (role_ != Role::kLeader) return;
  }
  if (pr.state == ProgressState::kReplicate) pr.inflight.FreeUpTo(msg.hint);
  if (pr.state == ProgressState::kProbe) {
    pr.probe_sent = false;  // the probe may have been lost: resend
  } else if (pr.state == ProgressState::kReplicate && pr.mark_pending &&
             msg.sent_tick > pr.sent_mark_tick) {
    // This heartbeat left after every append up to the mark (progress.h):
    // a follower that has not verified them lost some. Resend from the
    // match point; else mark what is sent by now (any time is a valid
    // mark: heartbeats of later ticks follow it).
    if (msg.hint < pr.sent_mark) {
      pr.BecomeProbe();
    } else {
      pr.sent_mark = pr.next - 1;
      pr.sent_mark_tick = now_;
    }
  }
  if (pr.state == ProgressState::kProbe) {
    // Probe even when the log holds nothing new: a follower that lost its
    // data answers with a hint below its old match, and the rejection of
    // this probe resets it (an idle cluster must catch it up too).
    SendAppend(msg.from, pr, /*allow_empty=*/true);
  } else if (pr.match < log_.last_index()) {
    while (SendAppend(msg.from, pr, /*allow_empty=*/false)) {
    }
  }
}

void Core::MaybeCommit() {
  if (role_ != Role::kLeader) return;
  std::vector<Index> matches;
  matches.reserve(membership_.voters.size());
  for (NodeId v : membership_.voters) {
    if (v == config_.id) {
      matches.push_back(durable_);
    } else {
      auto it = progress_.find(v);
      matches.push_back(it == progress_.end() ? 0 : it->second.match);
    }
  }
  std::sort(matches.begin(), matches.end(), std::greater<Index>());
  const Index quorum_index = matches[membership_.Quorum() - 1];
  // Only entries of the current term are committed by counting replicas;
  // earlier entries commit with them (Raft §5.4.2).
  if (quorum_index <= commit_ || log_.TermAt(quorum_index) != term_) return;
  commit_ = quorum_index;
  broadcast_pending_ = true;  // followers learn the new commit index
  CompleteProposals();
  AdvanceReads();
  const Index config_index =
      membership_history_.empty() ? log_.snapshot_index() : membership_history_.back().first;
  if (!IsPromotable() && commit_ >= config_index) {
    last_election_reason_ = "removed from the voters: stepped down";
    BecomeFollower(term_, kNoNode);
  }
}

void Core::CompleteProposals() {
  if (role_ != Role::kLeader) return;
  auto complete = [&](Durability d, Index up_to) {
    auto& queue = pending_[static_cast<int>(d)];
    while (!queue.empty() && queue.front().id.index <= up_to) {
      completions_.push_back(Completion{queue.front().id, d, ProposalOutcome::kSuccess});
      queue.pop_front();
    }
  };
  complete(Durability::kLeader, durable_);
  complete(Durability::kMajority, commit_);
  if (!pending_[static_cast<int>(Durability::kAll)].empty()) {
    Index all = std::min(durable_, commit_);
    for (NodeId v : membership_.voters) {
      if (v == config_.id) continue;
      auto it = progress_.find(v);
      all = std::min(all, it == progress_.end() ? 0 : it->second.match);
    }
    complete(Durability::kAll, all);
  }
}

}  // namespace tandem::replication
