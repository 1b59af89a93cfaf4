// Basic value types of the replication core: node ids, terms, indexes, log
// entries, the persisted hard state, snapshot metadata and cluster membership.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::replication {

using NodeId = uint64_t;  // a positive integer; 0 means "nobody"
using Term = uint64_t;
using Index = uint64_t;  // log positions start at 1; 0 is "before the log"

inline constexpr NodeId kNoNode = 0;

// Immutable payload bytes shared between the log, outgoing messages and
// the server, so sending one entry to several peers never copies it.
using Payload = std::shared_ptr<const std::string>;

enum class EntryType : uint8_t {
  kNormal = 1,      // an opaque client command
  kNoop = 2,        // appended by every new leader at the start of its term
  kMembership = 3,  // payload is an encoded Membership (see membership.h)
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::kNormal;
  Payload payload;  // may be null (no-op entries)

  std::string_view data() const {
    return payload ? std::string_view(*payload) : std::string_view();
  }
  size_t ByteSize() const { return 24 + (payload ? payload->size() : 0); }
};

// Must be persisted (fsync'd) before any message of the same Ready is sent.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  bool operator==(const HardState&) const = default;
};

// The voting members and the non-voting learners. Both lists are sorted and
// disjoint.
struct Membership {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool IsVoter(NodeId id) const { return std::binary_search(voters.begin(), voters.end(), id); }
  bool IsLearner(NodeId id) const {
    return std::binary_search(learners.begin(), learners.end(), id);
  }
  bool Contains(NodeId id) const { return IsVoter(id) || IsLearner(id); }
  size_t Quorum() const { return voters.size() / 2 + 1; }
  bool operator==(const Membership&) const = default;
};

// Describes the state a snapshot captures: every entry up to `index`
// (whose term was `term`) and the membership in force at `index`.
struct SnapshotMeta {
  Index index = 0;
  Term term = 0;
  Membership membership;
  bool operator==(const SnapshotMeta&) const = default;
};

// When a proposal completes (see Core::Propose).
enum class Durability : uint8_t {
  kLeader = 0,    // durable on the leader's disk
  kMajority = 1,  // committed: durable on a majority of voters
  kAll = 2,       // durable on every voter (and committed)
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

const char* RoleName(Role role);
const char* DurabilityName(Durability durability);

}  // namespace tandem::replication
