#include "replication/raft_log.h"

#include <algorithm>
#include <cassert>
#include <iterator>

namespace tandem::replication {

namespace {
// Dropping fewer entries than this frees them at once.
constexpr size_t kFreeInline = 4096;
}  // namespace

void RaftLog::Reset(Index snapshot_index, Term snapshot_term) {
  if (!entries_.empty()) graveyard_.push_back(std::move(entries_));
  entries_.clear();
  runs_.clear();
  resident_bytes_ = 0;
  snapshot_index_ = snapshot_index;
  snapshot_term_ = snapshot_term;
  last_index_ = snapshot_index;
}

std::optional<Term> RaftLog::TermAt(Index index) const {
  if (index == snapshot_index_) return snapshot_term_;
  if (index < snapshot_index_ || index > last_index_) return std::nullopt;
  // The last run starting at or before index.
  auto it = std::upper_bound(runs_.begin(), runs_.end(), index,
                             [](Index i, const TermRun& r) { return i < r.start; });
  assert(it != runs_.begin());
  return std::prev(it)->term;
}

Result<Entry> RaftLog::Get(Index index) const {
  if (index <= snapshot_index_ || index > last_index_) {
    return Status::NotFound("entry " + std::to_string(index) + " is not in the log");
  }
  if (index >= resident_first()) return At(index);
  std::vector<Entry> out;
  TANDEM_RETURN_IF_ERROR(Slice(index, index, 1, 1, &out));
  if (out.empty()) return Status::NotFound("entry " + std::to_string(index) + " not loaded");
  return out.front();
}

void RaftLog::Append(Entry entry) {
  assert(entry.index == last_index_ + 1);
  assert(entry.term >= last_term());
  if (runs_.empty() || runs_.back().term != entry.term) runs_.push_back({entry.index, entry.term});
  resident_bytes_ += ResidentBytes(entry);
  last_index_ = entry.index;
  entries_.push_back(std::move(entry));
}

void RaftLog::TruncateAfter(Index index) {
  assert(index >= snapshot_index_);
  if (index >= last_index_) return;
  while (!entries_.empty() && entries_.back().index > index) {
    resident_bytes_ -= ResidentBytes(entries_.back());
    entries_.pop_back();
  }
  while (!runs_.empty() && runs_.back().start > index) runs_.pop_back();
  last_index_ = index;
  // Truncating into the evicted prefix leaves nothing resident; what stays
  // is read back through the loader.
}

void RaftLog::DropFront(size_t count) {
  count = std::min(count, entries_.size());
  for (size_t i = 0; i < count; ++i) resident_bytes_ -= ResidentBytes(entries_[i]);
  if (count <= kFreeInline) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(count));
    return;
  }
  // Keep the tail in a new deque; the old one (its moved-from tail is
  // trivial to destroy) is freed bit by bit.
  std::deque<Entry> kept(
      std::make_move_iterator(entries_.begin() + static_cast<std::ptrdiff_t>(count)),
      std::make_move_iterator(entries_.end()));
  graveyard_.push_back(std::move(entries_));
  entries_ = std::move(kept);
}

void RaftLog::CompactTo(Index index, Term term) {
  if (index >= last_index_) {
    Reset(index, term);
    return;
  }
  if (index > snapshot_index_) {
    Index first_resident = resident_first();
    if (index >= first_resident) DropFront(index - first_resident + 1);
    // Runs: drop those that end at or before index; the one covering
    // index + 1 now starts there.
    auto it = std::upper_bound(runs_.begin(), runs_.end(), index + 1,
                               [](Index i, const TermRun& r) { return i < r.start; });
    Term covering = std::prev(it)->term;
    runs_.erase(runs_.begin(), it);
    runs_.insert(runs_.begin(), TermRun{index + 1, covering});
  }
  snapshot_index_ = index;
  snapshot_term_ = term;
}

void RaftLog::EvictUpTo(Index index) {
  if (!loader_) return;
  index = std::min(index, last_index_);
  Index first_resident = resident_first();
  if (index < first_resident) return;
  DropFront(index - first_resident + 1);
}

void RaftLog::EvictOldest(size_t target_bytes, Index limit) {
  if (!loader_ || resident_bytes_ <= target_bytes) return;
  size_t count = 0;
  size_t bytes = resident_bytes_;
  while (count < entries_.size() && bytes > target_bytes && entries_[count].index <= limit) {
    bytes -= ResidentBytes(entries_[count]);
    ++count;
  }
  DropFront(count);
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

Status RaftLog::Slice(Index from, Index to, size_t max_entries, size_t max_bytes,
                      std::vector<Entry>* out) const {
  assert(from >= first_index());
  to = std::min(to, last_index_);
  if (from > to) return Status::Ok();
  const size_t start = out->size();
  size_t bytes = 0;
  // Whether entry i (of `size` bytes) still fits: the first always does.
  auto fits = [&](Index i, size_t size) {
    return i == from || (bytes + size <= max_bytes && i - from < max_entries);
  };
  Index next = from;
  const Index first_resident = resident_first();
  if (next < first_resident) {
    if (!loader_) return Status::Unavailable("entries below the resident log and no loader");
    std::vector<Entry> loaded;
    TANDEM_RETURN_IF_ERROR(loader_(next, std::min(to, first_resident - 1), max_bytes, &loaded));
    for (Entry& e : loaded) {
      if (e.index != next || e.index > to) break;
      size_t size = e.ByteSize();
      if (!fits(e.index, size)) return Status::Ok();
      bytes += size;
      out->push_back(std::move(e));
      ++next;
    }
    if (next < first_resident) return Status::Ok();  // the loader stopped early
  }
  out->reserve(start + std::min<size_t>(to - next + 1, max_entries));
  for (; next <= to; ++next) {
    const Entry& e = At(next);
    size_t size = e.ByteSize();
    if (!fits(next, size)) break;
    bytes += size;
    out->push_back(e);
  }
  return Status::Ok();
}

Index RaftLog::FindConflictHint(Index index, Term term) const {
  if (index > last_index_) index = last_index_;
  // Walk the runs backwards from the one holding index.
  auto it = std::upper_bound(runs_.begin(), runs_.end(), index,
                             [](Index i, const TermRun& r) { return i < r.start; });
  while (it != runs_.begin()) {
    --it;
    if (it->term <= term) return index;
    if (it->start <= snapshot_index_ + 1) return snapshot_index_;
    index = it->start - 1;
  }
  return std::min(index, snapshot_index_);
}

}  // namespace tandem::replication
