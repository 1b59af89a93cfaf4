// RaftLog: the in-memory copy of the log entries after the last snapshot
// (the durable copy lives in the server's WAL). Indexes are contiguous from
// snapshot_index()+1 to last_index().
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "replication/types.h"

namespace tandem::replication {

class RaftLog {
 public:
  // Empties the log; it now starts after (index, term).
  void Reset(Index snapshot_index, Term snapshot_term);

  Index snapshot_index() const { return snapshot_index_; }
  Term snapshot_term() const { return snapshot_term_; }
  Index first_index() const { return snapshot_index_ + 1; }
  Index last_index() const { return snapshot_index_ + entries_.size(); }
  Term last_term() const { return entries_.empty() ? snapshot_term_ : entries_.back().term; }
  bool empty() const { return entries_.empty(); }

  // Term of entry `index`; known for snapshot_index()..last_index(),
  // nullopt when compacted away or beyond the end.
  std::optional<Term> TermAt(Index index) const;
  // Requires first_index() <= index <= last_index().
  const Entry& At(Index index) const { return entries_[index - first_index()]; }

  // Requires entry.index == last_index()+1 and entry.term >= last_term().
  void Append(Entry entry);
  // Keeps entries <= index (index >= snapshot_index()).
  void TruncateAfter(Index index);
  // Drops entries <= index; the log then starts after (index, term).
  // Entries after `index` are kept when index <= last_index(). Dropped
  // entries are freed later, by ReleaseCompacted: freeing a million
  // entries at once would stall the caller for seconds.
  void CompactTo(Index index, Term term);
  // Frees up to `max_entries` entries dropped by CompactTo or Reset; returns
  // how many it freed (0 when none is left).
  size_t ReleaseCompacted(size_t max_entries);
  size_t compacted_pending() const;

  // Appends copies of entries [from, to] to *out, stopping early after
  // `max_entries` or once `max_bytes` is exceeded (at least one entry is
  // copied when the range is non-empty). Requires from >= first_index().
  void Slice(Index from, Index to, size_t max_entries, size_t max_bytes,
             std::vector<Entry>* out) const;

  // Largest index <= `index` whose term is <= `term` (the fast back-off
  // search). Returns snapshot_index() when the answer lies in the compacted
  // prefix.
  Index FindConflictHint(Index index, Term term) const;

 private:
  Index snapshot_index_ = 0;
  Term snapshot_term_ = 0;
  std::deque<Entry> entries_;
  std::deque<std::deque<Entry>> graveyard_;  // dropped, not yet freed
};

}  // namespace tandem::replication
