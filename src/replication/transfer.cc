// Leadership transfer: the leader stops taking proposals, brings the target
// up to date and then tells it to campaign at once (kTimeoutNow).
#include "replication/core.h"

namespace tandem::replication {

Status Core::TransferLeadership(NodeId target) {
  if (role_ != Role::kLeader) return Status::Unavailable("not the leader");
  if (target == config_.id) return Status::Ok();
  if (!membership_.IsVoter(target)) return Status::InvalidArgument("target is not a voter");
  if (transfer_target_ == target) return Status::Ok();
  transfer_target_ = target;
  transfer_elapsed_ = 0;
  timeout_now_sent_ = false;
  Progress& pr = progress_.at(target);
  if (pr.match == log_.last_index()) {
    MaybeSendTimeoutNow(target, pr);
  } else {
    SendAppend(target, pr, /*allow_empty=*/true);
  }
  return Status::Ok();
}

void Core::TickTransfer() {
  if (transfer_target_ == kNoNode) return;
  if (++transfer_elapsed_ >= config_.election_ticks) {
    last_election_reason_ = "leadership transfer abandoned: target did not take over";
    transfer_target_ = kNoNode;  // accept proposals again
  }
}

void Core::MaybeSendTimeoutNow(NodeId peer, const Progress& pr) {
  if (peer != transfer_target_ || pr.match != log_.last_index()) return;
  if (timeout_now_sent_) return;
  timeout_now_sent_ = true;
  // The target will campaign with force=true, ignoring our lease: stop
  // serving lease reads until it has certainly taken over or failed.
  lease_blocked_until_ = now_ + 2 * config_.election_ticks;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = peer;
  Send(std::move(m));
}

void Core::HandleTimeoutNow(const Message& msg) {
  if (!IsPromotable()) return;
  last_election_reason_ = "leadership transfer from node " + std::to_string(msg.from);
  Campaign(/*pre_vote=*/false, /*forced=*/true);
}

}  // namespace tandem::replication
