// Linearizable reads on the leader: read index (a quorum confirms the
// leadership after the read arrived) and lease (no round trip while a quorum
// acknowledged us within the lease period).
#include <algorithm>

#include "replication/core.h"

namespace tandem::replication {

bool Core::CanReadUnderLease() const {
  return role_ == Role::kLeader && log_.TermAt(commit_) == term_ && LeaseValid();
}

Status Core::ReadIndex(uint64_t request_id, ReadMode mode) {
  if (role_ != Role::kLeader) return Status::Unavailable("not the leader");
  const bool committed_in_term = log_.TermAt(commit_) == term_;
  if (mode == ReadMode::kLease && CanReadUnderLease()) {
    reads_.push_back(ReadResult{request_id, true, commit_});
    return Status::Ok();
  }
  pending_reads_.push_back(PendingRead{request_id, ++seq_, committed_in_term ? commit_ : 0});
  if (membership_.Quorum() > 1 || !membership_.IsVoter(config_.id)) BroadcastHeartbeat();
  AdvanceReads();
  return Status::Ok();
}

uint64_t Core::QuorumAckedSeq() const {
  std::vector<uint64_t> acked;
  acked.reserve(membership_.voters.size());
  for (NodeId v : membership_.voters) {
    if (v == config_.id) {
      acked.push_back(seq_);
    } else {
      auto it = progress_.find(v);
      acked.push_back(it == progress_.end() ? 0 : it->second.acked_seq);
    }
  }
  std::sort(acked.begin(), acked.end(), std::greater<uint64_t>());
  return acked[membership_.Quorum() - 1];
}

void Core::AdvanceReads() {
  if (pending_reads_.empty() || role_ != Role::kLeader) return;
  const bool committed_in_term = log_.TermAt(commit_) == term_;
  const uint64_t acked = QuorumAckedSeq();
  for (PendingRead& r : pending_reads_) {
    if (r.index == 0 && committed_in_term) r.index = commit_;
  }
  while (!pending_reads_.empty()) {
    const PendingRead& r = pending_reads_.front();
    if (r.seq > acked || r.index == 0) break;
    reads_.push_back(ReadResult{r.request_id, true, r.index});
    pending_reads_.pop_front();
  }
}

bool Core::LeaseValid() const {
  if (!config_.check_quorum || role_ != Role::kLeader || now_ < lease_blocked_until_) return false;
  std::vector<uint64_t> sent;
  sent.reserve(membership_.voters.size());
  for (NodeId v : membership_.voters) {
    if (v == config_.id) {
      sent.push_back(now_);
    } else {
      auto it = progress_.find(v);
      sent.push_back(it == progress_.end() ? 0 : it->second.acked_sent_tick);
    }
  }
  std::sort(sent.begin(), sent.end(), std::greater<uint64_t>());
  const uint64_t quorum_tick = sent[membership_.Quorum() - 1];
  if (quorum_tick == 0) return false;
  // Voters that acknowledged a message sent at quorum_tick ignore other
  // candidates for election_ticks after receiving it (InLeaderLease).
  return now_ < quorum_tick + config_.election_ticks - config_.lease_drift_ticks;
}

}  // namespace tandem::replication
