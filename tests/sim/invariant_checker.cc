#include "sim/invariant_checker.h"

#include <fmt/format.h>

namespace tandem::sim {

void InvariantChecker::Fail(std::string what) {
  if (violation_.empty()) violation_ = fmt::format("tick {}: {}", now_, what);
}

void InvariantChecker::OnLeader(NodeId id, Term term, const replication::RaftLog& log) {
  auto [it, inserted] = leader_of_term_.emplace(term, id);
  if (!inserted && it->second != id) {
    Fail(fmt::format("election safety: nodes {} and {} both lead term {}", it->second, id, term));
    return;
  }
  if (!checked_leaders_.insert({id, term}).second) return;
  for (Index i = std::max<Index>(log.first_index(), 1); i <= history_.size(); ++i) {
    const Entry& committed = history_[i - 1];
    auto held = i > log.last_index() ? Result<Entry>(Status::NotFound("beyond the end")) : log.Get(i);
    if (!held.ok() || held->term != committed.term || held->data() != committed.data()) {
      Fail(fmt::format("leader completeness: node {} leads term {} without committed entry {}", id,
                       term, i));
      return;
    }
  }
}

void InvariantChecker::OnPersist(NodeId id, const Entry& e, Term prev_term, bool prev_known) {
  auto key = std::make_pair(e.index, e.term);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    entries_.emplace(key, std::make_pair(std::string(e.data()), prev_known ? prev_term : ~Term{0}));
    return;
  }
  if (it->second.first != e.data()) {
    Fail(fmt::format("log matching: node {} holds a different entry at index {} term {}", id,
                     e.index, e.term));
  } else if (prev_known && it->second.second != ~Term{0} && it->second.second != prev_term) {
    Fail(fmt::format("log matching: node {} entry {}@{} follows term {}, another log has {}", id,
                     e.index, e.term, prev_term, it->second.second));
  } else if (prev_known && it->second.second == ~Term{0}) {
    it->second.second = prev_term;
  }
}

void InvariantChecker::OnApply(NodeId id, const Entry& e) {
  if (e.index <= history_.size()) {
    const Entry& h = history_[e.index - 1];
    if (h.term != e.term || h.data() != e.data()) {
      Fail(fmt::format("state machine safety: node {} applied {}@{} where others applied {}@{}", id,
                       e.index, e.term, h.index, h.term));
    }
    return;
  }
  if (e.index != history_.size() + 1) {
    Fail(fmt::format("node {} applied index {} with a gap (history ends at {})", id, e.index,
                     history_.size()));
    return;
  }
  history_.push_back(e);
  auto it = acked_.find(e.index);
  if (it != acked_.end() && (it->second.first != e.term || it->second.second != e.data())) {
    Fail(fmt::format("durability: acknowledged entry {} replaced by a different one", e.index));
  }
}

void InvariantChecker::OnAcknowledged(Index index, Term term, const std::string& payload) {
  acked_[index] = {term, payload};
  if (index <= history_.size()) {
    const Entry& h = history_[index - 1];
    if (h.term != term || h.data() != payload) {
      Fail(fmt::format("durability: acknowledged entry {}@{} is not the committed one", index,
                       term));
    }
  }
}

void InvariantChecker::OnRolledBack(NodeId id, const Entry& e) {
  if (e.index <= history_.size()) {
    const Entry& h = history_[e.index - 1];
    if (h.term == e.term && h.data() == e.data()) {
      Fail(fmt::format("rollback: node {} discarded committed entry {}@{}", id, e.index, e.term));
    }
  }
  auto it = acked_.find(e.index);
  if (it != acked_.end() && it->second.first == e.term) {
    Fail(fmt::format("rollback: node {} discarded acknowledged entry {}", id, e.index));
  }
}

void InvariantChecker::OnRead(NodeId id, Index read_index, Index required) {
  if (read_index < required) {
    Fail(
        fmt::format("linearizability: node {} answered a read at index {} but {} was committed "
                    "before the read started",
                    id, read_index, required));
  }
}

void InvariantChecker::CheckAcknowledgedAreCommitted() {
  for (const auto& [index, acked] : acked_) {
    if (index > history_.size()) {
      Fail(fmt::format("durability: acknowledged entry {} never committed", index));
      return;
    }
  }
}

}  // namespace tandem::sim
