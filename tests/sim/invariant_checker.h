// InvariantChecker: the safety properties the simulation checks after every
// step. The first violation is kept (with the tick it happened at); later
// calls are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/raft_log.h"
#include "replication/types.h"

namespace tandem::sim {

using replication::Entry;
using replication::Index;
using replication::NodeId;
using replication::Term;

class InvariantChecker {
 public:
  void set_now(uint64_t tick) { now_ = tick; }

  // Election safety: at most one leader per term. Leader completeness:
  // a new leader's log holds every committed entry.
  void OnLeader(NodeId id, Term term, const replication::RaftLog& log);
  // Log matching: two logs with an entry of the same index and term hold
  // the same payload there and agree on the term before it.
  void OnPersist(NodeId id, const Entry& entry, Term prev_term, bool prev_known);
  // State machine safety: every node applies the same entry at an index.
  void OnApply(NodeId id, const Entry& entry);
  // Durability: a proposal acknowledged as committed (majority/all) stays.
  void OnAcknowledged(Index index, Term term, const std::string& payload);
  // Rollback: a discarded entry must never be a committed one.
  void OnRolledBack(NodeId id, const Entry& entry);
  // Linearizable reads: the read index covers every commit known before the
  // read was issued.
  void OnRead(NodeId id, Index read_index, Index required);
  // At the end: every acknowledged proposal is in the committed history.
  void CheckAcknowledgedAreCommitted();

  void Fail(std::string what);
  bool ok() const { return violation_.empty(); }
  const std::string& violation() const { return violation_; }
  const std::vector<Entry>& history() const { return history_; }
  Index max_commit() const { return history_.size(); }
  size_t acknowledged() const { return acked_.size(); }

 private:
  uint64_t now_ = 0;
  std::string violation_;
  std::map<Term, NodeId> leader_of_term_;
  std::set<std::pair<NodeId, Term>> checked_leaders_;
  std::map<std::pair<Index, Term>, std::pair<std::string, Term>> entries_;  // -> payload, prev term
  std::vector<Entry> history_;  // committed entries by index (index i at i-1)
  std::map<Index, std::pair<Term, std::string>> acked_;
};

}  // namespace tandem::sim
