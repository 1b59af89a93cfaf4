// Messages exchanged between replication cores. One struct carries every
// type; the fields each type uses are listed beside them. The wire encoding
// is in message_codec.h and docs/replication.md.
#pragma once

#include <cstdint>
#include <vector>

#include "replication/types.h"

namespace tandem::replication {

enum class MessageType : uint8_t {
  kPreVote = 1,  // "would you vote for me at term `term`?" (term not adopted)
  kPreVoteResponse = 2,
  kVote = 3,  // a real vote request at `term`
  kVoteResponse = 4,
  kAppend = 5,          // log entries (possibly none) after (index, log_term)
  kAppendResponse = 6,  // accept/reject of kAppend, also the ack of an installed snapshot
  kHeartbeat = 7,       // leadership assertion + commit index, no log check
  kHeartbeatResponse = 8,
  kSnapshot = 9,     // "install my snapshot `snapshot`" (bytes streamed by the server)
  kTimeoutNow = 10,  // leadership transfer: start an election at once
};

const char* MessageTypeName(MessageType type);

struct Message {
  MessageType type = MessageType::kHeartbeat;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;  // sender's term (a granted pre-vote echoes the proposed term)

  // kAppend: index of the entry before `entries`.
  // kPreVote/kVote: candidate's last log index.
  // kAppendResponse accept / kHeartbeatResponse: durable index known to
  // match the leader (match).
  // kAppendResponse reject: the rejected `index` of the kAppend.
  Index index = 0;
  // kAppend: term of entry `index`. kPreVote/kVote: candidate's last log term.
  // kAppendResponse reject: term of entry `hint` in the follower's log.
  Term log_term = 0;
  // kAppend/kHeartbeat: leader's commit index (heartbeat: capped at the
  // follower's match).
  Index commit = 0;
  // kAppendResponse accept / kHeartbeatResponse: last index known to match
  // the leader (may not be durable yet). Reject: where the follower's log
  // may diverge.
  Index hint = 0;
  bool reject = false;  // responses: request refused
  bool force = false;   // kPreVote/kVote: leadership transfer, ignore leader lease
  // kAppend/kHeartbeat: one of the leader's followers is catching up (a
  // hint for the server layer: members defer their automatic snapshots;
  // the core ignores it).
  bool peer_catching_up = false;
  // kAppend/kHeartbeat: leader's round number and local tick; the responses
  // echo both (read-index confirmation and lease).
  uint64_t seq = 0;
  uint64_t sent_tick = 0;
  std::vector<Entry> entries;  // kAppend
  SnapshotMeta snapshot;       // kSnapshot
};

}  // namespace tandem::replication
