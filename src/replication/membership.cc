#include "replication/membership.h"

#include <algorithm>

#include "util/coding.h"

namespace tandem::replication {

namespace {
constexpr uint8_t kMembershipVersion = 1;
constexpr uint64_t kMaxMembers = 1024;

bool HasDuplicates(const std::vector<NodeId>& sorted) {
  return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
}

bool GetIdList(std::string_view* in, std::vector<NodeId>* out) {
  uint64_t count;
  if (!GetVarint64(in, &count) || count > kMaxMembers || count > in->size()) return false;
  out->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t id;
    if (!GetVarint64(in, &id)) return false;
    out->push_back(id);
  }
  return true;
}
}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

const char* DurabilityName(Durability durability) {
  switch (durability) {
    case Durability::kLeader:
      return "leader";
    case Durability::kMajority:
      return "majority";
    case Durability::kAll:
      return "all";
  }
  return "unknown";
}

Status NormalizeMembership(Membership* m) {
  std::sort(m->voters.begin(), m->voters.end());
  std::sort(m->learners.begin(), m->learners.end());
  if (m->voters.empty()) return Status::InvalidArgument("membership has no voters");
  if (HasDuplicates(m->voters) || HasDuplicates(m->learners)) {
    return Status::InvalidArgument("membership lists a node twice");
  }
  if (m->voters.front() == kNoNode || (!m->learners.empty() && m->learners.front() == kNoNode)) {
    return Status::InvalidArgument("node id 0 is reserved");
  }
  for (NodeId id : m->learners) {
    if (m->IsVoter(id)) return Status::InvalidArgument("a node is both voter and learner");
  }
  return Status::Ok();
}

std::string EncodeMembership(const Membership& m) {
  std::string out;
  out.push_back(static_cast<char>(kMembershipVersion));
  PutVarint64(&out, m.voters.size());
  for (NodeId id : m.voters) PutVarint64(&out, id);
  PutVarint64(&out, m.learners.size());
  for (NodeId id : m.learners) PutVarint64(&out, id);
  return out;
}

Result<Membership> DecodeMembership(std::string_view in) {
  if (in.empty() || static_cast<uint8_t>(in.front()) != kMembershipVersion) {
    return Status::Corruption("membership: bad version");
  }
  in.remove_prefix(1);
  Membership m;
  if (!GetIdList(&in, &m.voters) || !GetIdList(&in, &m.learners)) {
    return Status::Corruption("membership: truncated id list");
  }
  if (!in.empty()) return Status::Corruption("membership: trailing bytes");
  Status st = NormalizeMembership(&m);
  if (!st.ok()) return Status::Corruption("membership: " + st.message());
  return m;
}

Status ValidateMembershipChange(const Membership& current, const Membership& next) {
  size_t added = 0, removed = 0;
  for (NodeId id : next.voters) added += current.IsVoter(id) ? 0 : 1;
  for (NodeId id : current.voters) removed += next.IsVoter(id) ? 0 : 1;
  if (added + removed > 1) {
    return Status::InvalidArgument("change the voting set one member at a time");
  }
  return Status::Ok();
}

}  // namespace tandem::replication
