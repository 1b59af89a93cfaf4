// Follower-side replication: the log-matching check, truncation of a
// divergent suffix, fast back-off hints, acknowledgements of durable entries
// only, heartbeats and snapshot installation.
#include <algorithm>

#include "replication/core.h"

namespace tandem::replication {

void Core::HandleAppend(Message msg) {
  const Index prev = msg.index;
  // Entries up to the commit index are identical on every log that has
  // them, so a prefix at or below it needs no check.
  if (prev >= commit_) {
    const std::optional<Term> prev_term = log_.TermAt(prev);
    if (!prev_term || *prev_term != msg.log_term) {
      RejectAppend(msg);
      return;
    }
  }
  const Index last_new = prev + msg.entries.size();
  leader_commit_ = std::max(leader_commit_, msg.commit);
  for (Entry& e : msg.entries) {
    if (e.index <= commit_) continue;
    if (e.index <= log_.last_index()) {
      if (log_.TermAt(e.index) == e.term) continue;
      TruncateLogAfter(e.index - 1);  // a divergent suffix: the leader's log wins
    }
    AppendToLog(std::move(e));
  }
  last_verified_ = std::max(last_verified_, last_new);
  commit_ = std::max(commit_, std::min(msg.commit, last_new));
  if (durable_ < last_new) {
    // The answer waits until these entries are durable (AdvanceDurable):
    // an answer now could not acknowledge them, and the leader would need a
    // second one anyway.
    deferred_ack_ = DeferredAck{term_, msg.from, msg.seq, msg.sent_tick};
    return;
  }
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = msg.from;
  reply.index = std::min(durable_, last_verified_);
  reply.hint = last_verified_;
  reply.seq = msg.seq;
  reply.sent_tick = msg.sent_tick;
  acked_to_leader_ = std::max(acked_to_leader_, reply.index);
  Send(std::move(reply));
}

void Core::RejectAppend(const Message& msg) {
  // Tell the leader where our log may diverge: the last index whose term is
  // not above the term the leader expected, but never below our commit.
  Index hint = log_.FindConflictHint(std::min(msg.index, log_.last_index()), msg.log_term);
  hint = std::max(hint, commit_);
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = msg.from;
  reply.reject = true;
  reply.index = msg.index;
  reply.hint = hint;
  reply.log_term = log_.TermAt(hint).value_or(0);
  reply.seq = msg.seq;
  reply.sent_tick = msg.sent_tick;
  Send(std::move(reply));
}

void Core::SendAppendAck(NodeId to) {
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = to;
  reply.index = std::min(durable_, last_verified_);
  reply.hint = last_verified_;
  if (deferred_ack_ && deferred_ack_->term == term_ && deferred_ack_->leader == to) {
    // Echo the newest append this answers, for the leader's reads and lease.
    reply.seq = deferred_ack_->seq;
    reply.sent_tick = deferred_ack_->sent_tick;
  }
  deferred_ack_.reset();
  acked_to_leader_ = std::max(acked_to_leader_, reply.index);
  Send(std::move(reply));
}

void Core::HandleHeartbeat(const Message& msg) {
  // The leader caps msg.commit at our acknowledged match, so our log holds
  // those entries as the leader has them.
  commit_ = std::max(commit_, std::min(msg.commit, log_.last_index()));
  Message reply;
  reply.type = MessageType::kHeartbeatResponse;
  reply.to = msg.from;
  reply.index = std::min(durable_, last_verified_);
  reply.hint = last_verified_;
  reply.seq = msg.seq;
  reply.sent_tick = msg.sent_tick;
  Send(std::move(reply));
}

void Core::HandleSnapshot(const Message& msg) {
  const SnapshotMeta& snap = msg.snapshot;
  if (snap.index <= commit_) {
    // Our committed prefix is in every later leader's log: it is verified,
    // and saying so moves the leader past the snapshot it offered.
    last_verified_ = std::max(last_verified_, commit_);
    SendAppendAck(msg.from);
    return;
  }
  if (log_.TermAt(snap.index) == snap.term) {
    // Our log already holds the snapshot's last entry: it and everything
    // before it are committed, no install needed.
    last_verified_ = std::max(last_verified_, snap.index);
    commit_ = std::max(commit_, snap.index);
    SendAppendAck(msg.from);
    return;
  }
  pending_install_ = snap;
  snapshot_to_install_ = snap;
}

Status Core::OnSnapshotInstalled(const SnapshotMeta& meta) {
  if (!pending_install_ || pending_install_->index != meta.index ||
      pending_install_->term != meta.term) {
    return Status::InvalidArgument("no such snapshot install pending");
  }
  SnapshotMeta snap = std::move(*pending_install_);
  pending_install_.reset();
  if (snap.index <= commit_) return Status::Ok();  // overtaken by appends meanwhile
  if (log_.TermAt(snap.index) == snap.term) {
    commit_ = snap.index;  // the snapshot holds committed state only
    TANDEM_RETURN_IF_ERROR(Compact(snap.index));
  } else {
    ReportEntriesReplacedBySnapshot(snap);
    log_.Reset(snap.index, snap.term);
    membership_history_.clear();
    snapshot_membership_ = snap.membership;
    ApplyMembership(snap.membership);
    commit_ = snap.index;
  }
  // The server emptied its WAL for the install: entries we kept after the
  // snapshot must be written again.
  truncate_after_.reset();
  persist_from_ = snap.index + 1;
  durable_ = snap.index;
  committed_handed_ = std::max(committed_handed_, snap.index);
  last_verified_ = std::max(last_verified_, snap.index);
  if (leader_ != kNoNode) SendAppendAck(leader_);
  return Status::Ok();
}

void Core::ReportEntriesReplacedBySnapshot(const SnapshotMeta& snap) {
  for (Index i = std::max(commit_, log_.snapshot_index()) + 1; i <= log_.last_index(); ++i) {
    const Entry& e = log_.At(i);
    if (led_terms_.count(e.term) == 0) continue;
    if (i > snap.index || e.term > snap.term) {
      rolled_back_.push_back(e);  // the leader's log cannot hold it
    } else if (e.term < snap.term) {
      maybe_rolled_back_.push_back(e);  // the snapshot may or may not hold it
    }
    // e.term == snap.term: we led that term and created the snapshot's last
    // entry, so every entry of ours of that term up to it is included.
  }
}

}  // namespace tandem::replication
