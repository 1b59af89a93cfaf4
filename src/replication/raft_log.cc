#include "replication/raft_log.h"

#include <algorithm>
#include <cassert>

namespace tandem::replication {

void RaftLog::Reset(Index snapshot_index, Term snapshot_term) {
  entries_.clear();
  snapshot_index_ = snapshot_index;
  snapshot_term_ = snapshot_term;
}

std::optional<Term> RaftLog::TermAt(Index index) const {
  if (index == snapshot_index_) return snapshot_term_;
  if (index < snapshot_index_ || index > last_index()) return std::nullopt;
  return entries_[index - first_index()].term;
}

void RaftLog::Append(Entry entry) {
  assert(entry.index == last_index() + 1);
  entries_.push_back(std::move(entry));
}

void RaftLog::TruncateAfter(Index index) {
  assert(index >= snapshot_index_);
  while (last_index() > index) entries_.pop_back();
}

void RaftLog::CompactTo(Index index, Term term) {
  if (index >= last_index()) {
    entries_.clear();
  } else {
    while (!entries_.empty() && entries_.front().index <= index) entries_.pop_front();
  }
  snapshot_index_ = index;
  snapshot_term_ = term;
}

void RaftLog::Slice(Index from, Index to, size_t max_entries, size_t max_bytes,
                    std::vector<Entry>* out) const {
  assert(from >= first_index());
  if (from > to || from > last_index()) return;
  out->reserve(out->size() + std::min<size_t>(std::min(to, last_index()) - from + 1, max_entries));
  size_t bytes = 0;
  for (Index i = from; i <= to && i <= last_index(); ++i) {
    const Entry& e = At(i);
    size_t size = e.ByteSize();
    if (i != from && (bytes + size > max_bytes || i - from >= max_entries)) break;
    bytes += size;
    out->push_back(e);
  }
}

Index RaftLog::FindConflictHint(Index index, Term term) const {
  if (index > last_index()) index = last_index();
  while (index > snapshot_index_ && At(index).term > term) --index;
  return index;
}

}  // namespace tandem::replication
