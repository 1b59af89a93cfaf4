// Membership encoding (the payload of kMembership entries) and the rule for
// a safe change of the voting set: one voter added or removed at a time, so
// the old and new majorities always overlap.
#pragma once

#include <string>
#include <string_view>

#include "replication/types.h"
#include "util/result.h"
#include "util/status.h"

namespace tandem::replication {

// Sorts both lists and checks they are disjoint, free of duplicates and of
// the id 0, and that there is at least one voter.
Status NormalizeMembership(Membership* membership);

// Layout (docs/replication.md): u8 version=1, varint n_voters, n x varint id,
// varint n_learners, n x varint id.
std::string EncodeMembership(const Membership& membership);
Result<Membership> DecodeMembership(std::string_view bytes);

// OK when `next` differs from `current` by at most one voter (added,
// removed, or a learner promoted / a voter demoted). Learners may change
// freely.
Status ValidateMembershipChange(const Membership& current, const Membership& next);

}  // namespace tandem::replication
