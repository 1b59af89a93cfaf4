// RaftLog: the replication core's view of the log entries after the last
// snapshot (the durable copy lives in the server's WAL). Indexes are
// contiguous from snapshot_index()+1 to last_index().
//
// Memory: the terms of every entry are kept as runs (one record per term
// change), so TermAt and the conflict search never touch storage. Whole
// entries (payloads) are kept in memory only from resident_first() on: the
// owner may evict an older, durable prefix (EvictUpTo) once it has a loader
// that reads entries back from durable storage; Slice and Get then load
// what is not resident. Without a loader nothing can be evicted.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "replication/types.h"
#include "util/result.h"
#include "util/status.h"

namespace tandem::replication {

// Reads entries [from, to] from durable storage into *out, stopping once
// their ByteSize() total reaches max_bytes (at least one entry).
using EntryLoader =
    std::function<Status(Index from, Index to, size_t max_bytes, std::vector<Entry>* out)>;

class RaftLog {
 public:
  // Empties the log; it now starts after (index, term).
  void Reset(Index snapshot_index, Term snapshot_term);

  Index snapshot_index() const { return snapshot_index_; }
  Term snapshot_term() const { return snapshot_term_; }
  Index first_index() const { return snapshot_index_ + 1; }
  Index last_index() const { return last_index_; }
  Term last_term() const { return runs_.empty() ? snapshot_term_ : runs_.back().term; }
  bool empty() const { return last_index_ == snapshot_index_; }

  // Term of entry `index`; known for snapshot_index()..last_index(),
  // nullopt when compacted away or beyond the end.
  std::optional<Term> TermAt(Index index) const;
  // First entry held in memory (last_index()+1 when none is).
  Index resident_first() const { return last_index_ + 1 - entries_.size(); }
  // Requires resident_first() <= index <= last_index().
  const Entry& At(Index index) const { return entries_[index - resident_first()]; }
  // Entry `index` (first_index() <= index <= last_index()), from memory or
  // through the loader.
  Result<Entry> Get(Index index) const;

  // Requires entry.index == last_index()+1 and entry.term >= last_term().
  void Append(Entry entry);
  // Keeps entries <= index (index >= snapshot_index()).
  void TruncateAfter(Index index);
  // Drops entries <= index; the log then starts after (index, term).
  // Entries after `index` are kept when index <= last_index(). Dropped
  // entries are freed later, by ReleaseCompacted: freeing a million
  // entries at once would stall the caller for seconds.
  void CompactTo(Index index, Term term);
  // Frees up to `max_entries` entries dropped by CompactTo, EvictUpTo or
  // Reset; returns how many it freed (0 when none is left).
  size_t ReleaseCompacted(size_t max_entries);
  size_t compacted_pending() const;

  // Reading back evicted entries. Evicting requires a loader.
  void set_loader(EntryLoader loader) { loader_ = std::move(loader); }
  // Drops the payloads of entries <= index from memory (they must be
  // durable in the loader's storage). No-op without a loader.
  void EvictUpTo(Index index);
  // Evicts the oldest resident entries, none above `limit`, until at most
  // target_bytes stay resident. No-op without a loader.
  void EvictOldest(size_t target_bytes, Index limit);
  // Memory held by the resident entries: ResidentBytes() total.
  size_t resident_bytes() const { return resident_bytes_; }
  // What one resident entry costs in memory: ByteSize() plus what it does
  // not count. A 40-byte SET record takes ~150 bytes: 40 for the deque
  // slot, a 64-byte block for the shared string (control block + string
  // object) and a 48-byte block for its characters; ByteSize() says 64.
  static size_t ResidentBytes(const Entry& e) {
    return e.ByteSize() + kResidentOverheadBytes;
  }
  static constexpr size_t kResidentOverheadBytes = 96;

  // Appends copies of entries [from, to] to *out, stopping early after
  // `max_entries` or once `max_bytes` is exceeded (at least one entry is
  // copied when the range is non-empty). Requires from >= first_index().
  // Entries that are not resident come from the loader; its error is
  // returned (and *out may hold a prefix).
  Status Slice(Index from, Index to, size_t max_entries, size_t max_bytes,
               std::vector<Entry>* out) const;

  // Largest index <= `index` whose term is <= `term` (the fast back-off
  // search). Returns snapshot_index() when the answer lies in the compacted
  // prefix.
  Index FindConflictHint(Index index, Term term) const;

 private:
  struct TermRun {
    Index start;  // first index of the run
    Term term;
  };
  void DropFront(size_t count);

  Index snapshot_index_ = 0;
  Term snapshot_term_ = 0;
  Index last_index_ = 0;
  std::vector<TermRun> runs_;  // cover first_index()..last_index()
  std::deque<Entry> entries_;  // resident_first()..last_index()
  size_t resident_bytes_ = 0;
  std::deque<std::deque<Entry>> graveyard_;  // dropped, not yet freed
  EntryLoader loader_;
};

}  // namespace tandem::replication
