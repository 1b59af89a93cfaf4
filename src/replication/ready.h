// Ready: everything the core asks the server to do after one or more
// inputs. Process the fields in the order they are declared (see Core).
#pragma once

#include <optional>
#include <vector>

#include "replication/message.h"
#include "replication/types.h"

namespace tandem::replication {

enum class ProposalOutcome : uint8_t {
  kSuccess,         // reached the requested durability
  kOutcomeUnknown,  // leadership was lost first; the entry may still commit
};

// Identifies a proposal: the index and term its entry got.
struct ProposalId {
  Index index = 0;
  Term term = 0;
  bool operator==(const ProposalId&) const = default;
};

struct Completion {
  ProposalId id;
  Durability durability = Durability::kMajority;
  ProposalOutcome outcome = ProposalOutcome::kSuccess;
};

struct ReadResult {
  uint64_t request_id = 0;
  bool ok = false;  // false: leadership lost; retry on the new leader
  // Serve the read once the state machine has applied at least `index`.
  Index index = 0;
};

// Role, leader and term, reported when any of them changes.
struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  Term term = 0;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  // 1. Persist (fsync) before sending any message below.
  std::optional<HardState> hard_state;
  // 2. Install this snapshot (received from the leader) synchronously, and
  //    empty the WAL (the log restarts after the snapshot); then call
  //    Core::OnSnapshotInstalled with the same metadata. A Ready carrying a
  //    snapshot carries no WAL work (entries are re-emitted afterwards).
  std::optional<SnapshotMeta> snapshot_to_install;
  // 3. WAL: drop every entry after `truncate_after` (if set), then append
  //    `entries`. When the append is durable call Core::AdvanceDurable with
  //    the last entry's index and term. Messages may be sent before that.
  std::optional<Index> truncate_after;
  std::vector<Entry> entries;
  // 4. Send each message to msg.to (Message::kSnapshot: stream the snapshot
  //    at msg.snapshot.index along with it).
  std::vector<Message> messages;
  // 5. The commit index, and the entries newly committed since the previous
  //    Ready, in order. A follower applies them; a leader skips those it
  //    already applied speculatively.
  Index commit_index = 0;
  std::vector<Entry> committed_entries;
  // 6. Notifications.
  std::vector<Completion> completions;
  std::vector<ReadResult> reads;
  // Entries this node appended as leader (and the server may have applied
  // speculatively) that the current leader's log does not contain. Save
  // them to a rollback file and rebuild the state machine from the last
  // snapshot plus committed entries.
  std::vector<Entry> rolled_back;
  // Entries this node appended as leader, replaced by an installed snapshot
  // that may or may not contain them (their term is older than the
  // snapshot's). Save them too, marked as uncertain.
  std::vector<Entry> maybe_rolled_back;
  std::optional<SoftState> soft_state;
  std::optional<Membership> membership;  // the membership in force changed

  bool empty() const {
    return !hard_state && !snapshot_to_install && !truncate_after && entries.empty() &&
           messages.empty() && committed_entries.empty() && completions.empty() && reads.empty() &&
           rolled_back.empty() && !soft_state && !membership;
  }
};

}  // namespace tandem::replication
