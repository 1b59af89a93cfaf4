// Elections: the follower's election timer, pre-vote and vote campaigns,
// and granting votes (one per term, only to an up-to-date candidate).
#include "replication/core.h"

namespace tandem::replication {

void Core::TickElection() {
  ++election_elapsed_;
  // In a TickMany burst the leader's messages sent during the stall are not
  // read yet: campaign at the next regular tick if they still say nothing.
  if (stall_burst_) return;
  if (IsPromotable() && election_elapsed_ >= randomized_timeout_) {
    last_election_reason_ =
        leader_ != kNoNode ? "election timeout: leader silent" : "election timeout: no leader";
    Campaign(config_.pre_vote, /*forced=*/false);
  }
}

bool Core::InLeaderLease() const {
  if (!config_.check_quorum) return false;
  // While we hear from a leader, and during the first election timeout after
  // a restart (we may have followed a leader just before it), vote
  // requests are ignored: this protects the leader's lease.
  if (term_ > 0 && now_ <= config_.election_ticks) return true;
  return leader_ != kNoNode && election_elapsed_ < config_.election_ticks;
}

void Core::Campaign(bool pre_vote, bool forced) {
  if (pre_vote) {
    BecomePreCandidate();
  } else {
    BecomeCandidate();
  }
  votes_.clear();
  votes_[config_.id] = true;
  if (membership_.Quorum() <= 1) {
    if (pre_vote) {
      Campaign(false, forced);
    } else {
      BecomeLeader();
    }
    return;
  }
  const Term campaign_term = pre_vote ? term_ + 1 : term_;
  for (NodeId voter : membership_.voters) {
    if (voter == config_.id) continue;
    Message m;
    m.type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
    m.to = voter;
    m.term = campaign_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.force = forced;
    Send(std::move(m));
  }
}

void Core::HandleVoteRequest(const Message& msg) {
  const bool pre = msg.type == MessageType::kPreVote;
  const bool can_vote =
      vote_ == msg.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && msg.term > term_);
  const bool up_to_date = config_.unsafe_skip_vote_log_check || msg.log_term > log_.last_term() ||
                          (msg.log_term == log_.last_term() && msg.index >= log_.last_index());
  Message reply;
  reply.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  reply.to = msg.from;
  if (can_vote && up_to_date) {
    reply.term = msg.term;
    if (!pre) {
      // The vote reaches disk (Ready::hard_state) before this reply is sent.
      vote_ = msg.from;
      election_elapsed_ = 0;
    }
  } else {
    reply.term = term_;
    reply.reject = true;
  }
  Send(std::move(reply));
}

void Core::HandleVoteResponse(const Message& msg) {
  const bool pre = msg.type == MessageType::kPreVoteResponse;
  if (pre && (role_ != Role::kPreCandidate || (!msg.reject && msg.term != term_ + 1))) return;
  if (!pre && role_ != Role::kCandidate) return;
  if (!membership_.IsVoter(msg.from)) return;
  votes_[msg.from] = !msg.reject;
  size_t granted = 0, rejected = 0;
  for (const auto& [id, yes] : votes_) {
    if (!membership_.IsVoter(id)) continue;
    (yes ? granted : rejected) += 1;
  }
  const size_t quorum = membership_.Quorum();
  if (granted >= quorum) {
    if (pre) {
      Campaign(/*pre_vote=*/false, /*forced=*/false);
    } else {
      BecomeLeader();
    }
  } else if (rejected > membership_.voters.size() - quorum) {
    BecomeFollower(term_, kNoNode);
  }
}

}  // namespace tandem::replication
