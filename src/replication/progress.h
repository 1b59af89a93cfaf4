// Progress: the leader's view of one follower or learner — how much of the
// log it holds (match), what to send next, and the window of in-flight
// append batches that bounds pipelining.
#pragma once

#include <cstdint>
#include <vector>

#include "replication/types.h"

namespace tandem::replication {

// A ring of the last index of each unacknowledged append batch.
class InflightWindow {
 public:
  explicit InflightWindow(size_t capacity = 1) : slots_(capacity ? capacity : 1) {}
  bool full() const { return count_ == slots_.size(); }
  size_t count() const { return count_; }
  // Requires !full(); `last_index` increases with every call.
  void Add(Index last_index) {
    slots_[(start_ + count_) % slots_.size()] = last_index;
    ++count_;
  }
  // Forgets every batch ending at or before `index`.
  void FreeUpTo(Index index) {
    while (count_ > 0 && slots_[start_] <= index) {
      start_ = (start_ + 1) % slots_.size();
      --count_;
    }
  }
  void FreeFirst() {
    if (count_ == 0) return;
    start_ = (start_ + 1) % slots_.size();
    --count_;
  }
  void Clear() { start_ = count_ = 0; }

 private:
  std::vector<Index> slots_;
  size_t start_ = 0;
  size_t count_ = 0;
};

enum class ProgressState : uint8_t {
  kProbe,      // one append at a time until the match point is found
  kReplicate,  // pipelined appends, next advanced optimistically
  kSnapshot,   // a snapshot was sent; appends paused until it is installed
};

const char* ProgressStateName(ProgressState state);

struct Progress {
  explicit Progress(size_t max_inflight) : inflight(max_inflight) {}

  Index match = 0;  // highest index durable on the peer and equal to ours
  Index next = 1;   // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;        // kProbe: an append is outstanding
  Index pending_snapshot = 0;     // kSnapshot: the index sent
  uint64_t snapshot_ticks = 0;    // kSnapshot: ticks since sent
  bool recent_active = false;     // heard from since the last check-quorum round
  uint64_t acked_seq = 0;         // highest round number echoed (read index)
  uint64_t acked_sent_tick = 0;   // leader tick of the newest echoed round (lease)
  uint64_t last_ack_tick = 0;     // leader tick when last heard from (status)
  // kReplicate: lost-append detection. A mark: the last index sent so far
  // and the tick (taken by a heartbeat, renewed when one is checked).
  // Appends up to the mark precede every later heartbeat on the (ordered)
  // link, so the answer to a heartbeat sent after the mark's tick must show
  // the follower's log verified up to it; if it does not, appends were lost
  // (dropped, or the link reconnected) or the follower restarted (it may
  // have lost its data), and the leader probes again from the match point.
  // A follower merely slow to answer (appends queued behind the heartbeat,
  // or a full window) is not mistaken for a lost one: that re-sent whole
  // windows to a lagging follower and starved its catch-up.
  bool mark_pending = false;
  Index sent_mark = 0;
  uint64_t sent_mark_tick = 0;
  Index commit_sent = 0;          // commit index carried by the last append sent
  InflightWindow inflight;

  void BecomeProbe() {
    mark_pending = false;
    state = ProgressState::kProbe;
    next = match + 1;
    probe_sent = false;
    inflight.Clear();
  }
  void BecomeReplicate(Index next_index) {
    mark_pending = false;
    state = ProgressState::kReplicate;
    next = next_index;
    probe_sent = false;
    inflight.Clear();
  }
  void BecomeSnapshot(Index index) {
    mark_pending = false;
    state = ProgressState::kSnapshot;
    pending_snapshot = index;
    snapshot_ticks = 0;
    inflight.Clear();
  }
};

}  // namespace tandem::replication
