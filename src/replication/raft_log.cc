#include "replication/raft_log.h"

#include <algorithm>
#include <cassert>

namespace tandem::replication {

namespace {
// Dropping fewer entries than this frees them at once.
constexpr size_t kFreeInline = 4096;
}  // namespace

void RaftLog::Reset(Index snapshot_index, Term snapshot_term) {
  if (!entries_.empty()) graveyard_.push_back(std::move(entries_));
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
  const size_t drop =
      index > snapshot_index_ ? std::min<size_t>(index - snapshot_index_, entries_.size()) : 0;
  if (drop <= kFreeInline) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(drop));
  } else {
    // Keep the tail in a new deque; the old one (its moved-from tail is
    // trivial to destroy) is freed bit by bit.
    std::deque<Entry> kept(std::make_move_iterator(entries_.begin() + static_cast<std::ptrdiff_t>(drop)),
                           std::make_move_iterator(entries_.end()));
    graveyard_.push_back(std::move(entries_));
    entries_ = std::move(kept);
  }
  snapshot_index_ = index;
  snapshot_term_ = term;
}

size_t RaftLog::ReleaseCompacted(size_t max_entries) {
  size_t released = 0;
  while (!graveyard_.empty() && released < max_entries) {
    std::deque<Entry>& dead = graveyard_.front();
    size_t n = std::min(max_entries - released, dead.size());
    dead.erase(dead.begin(), dead.begin() + static_cast<std::ptrdiff_t>(n));
    released += n;
    if (dead.empty()) graveyard_.pop_front();
  }
  return released;
}

size_t RaftLog::compacted_pending() const {
  size_t n = 0;
  for (const auto& dead : graveyard_) n += dead.size();
  return n;
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
