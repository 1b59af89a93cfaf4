// StagedSnapshotLoad: a follower loading a snapshot while it receives it.
//
// A thread of its own reads the receive file (snapshot::SnapshotReceiver)
// as the loop reports new bytes in it, decodes and verifies them
// (snapshot::SnapshotDecoder: the header, which must match the offer, every
// entry's checksum, at the end the entry count and the whole-file
// checksum) and loads every entry into a state machine of its own. Once
// the whole file has verified, installing the snapshot swaps that keyspace
// in (Server::AdoptState) instead of reading the file back and loading it
// in one piece on the loop (which held a follower's loop for 0.8 s with a
// 300 MB snapshot and 3.3-5.7 s with a 1.1 GB one on the development VM):
// the load overlaps the transfer, on the other core. Nor does the loop wait
// for the part of the load that lags the last chunk (0.26 s and 1.5 s in
// those cases): the Replicator finishes the receive, and installs, when the
// thread reports it idle. Dropping a load frees what it loaded on the
// caller's thread (failure paths only: an adopted load holds the old,
// empty state).
//
// It costs the memory of a second keyspace while it runs, so the
// Replicator stages only into a node whose own keyspace is empty (a new
// member, a wiped data dir); the snapshot file is received and kept as
// before either way, and a failed staged load falls back to loading it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kv/state_machine.h"
#include "snapshot/snapshot_decoder.h"
#include "snapshot/snapshot_transfer.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::server {

class StagedSnapshotLoad {
 public:
  // Opens `path`, the file `offer` is being received into from byte 0, and
  // starts the loading thread. `on_idle` runs on that thread whenever it
  // has caught up with everything advanced so far, or failed (it may post
  // to the loop; it must not call this object).
  static Result<std::unique_ptr<StagedSnapshotLoad>> Start(Env* env,
                                                           const snapshot::SnapshotOffer& offer,
                                                           const std::string& path,
                                                           std::function<void()> on_idle = {});
  // Stops the thread (between two reads) and frees what it loaded.
  ~StagedSnapshotLoad();
  StagedSnapshotLoad(const StagedSnapshotLoad&) = delete;
  StagedSnapshotLoad& operator=(const StagedSnapshotLoad&) = delete;

  // The file now holds the transfer's bytes [0, received) (never less than
  // said before).
  void Advance(uint64_t received);

  // Whether the load stopped on an error (bad bytes, a header not matching
  // the offer, an entry the state machine refuses, a read error); without
  // blocking.
  bool failed() const;
  Status error() const;

  // Without blocking: the thread has decoded everything advanced so far
  // (WaitComplete would not wait), or failed.
  bool idle() const;
  // Blocks until the thread has decoded everything advanced so far; then
  // true when the whole offer has verified and loaded. After true, meta()
  // and state() belong to the caller's thread.
  bool WaitComplete();
  const snapshot::SnapshotOffer& offer() const { return offer_; }
  const snapshot::SnapshotMeta& meta() const { return decoder_.meta(); }
  kv::StateMachine& state() { return state_; }

 private:
  StagedSnapshotLoad(const snapshot::SnapshotOffer& offer, std::unique_ptr<File> file,
                     std::function<void()> on_idle);
  void Run();
  // Reads and loads the file's bytes [read_, upto).
  Status LoadUpTo(uint64_t upto);
  Status Decode();
  // Everything advanced so far decoded, or failed; mu_ held.
  bool IdleLocked() const { return !error_.ok() || processed_ == available_; }

  const snapshot::SnapshotOffer offer_;
  std::unique_ptr<File> file_;
  const std::function<void()> on_idle_;
  // The loading thread's own; the caller's after WaitComplete returned true.
  snapshot::SnapshotDecoder decoder_;
  kv::StateMachine state_;
  uint64_t read_ = 0;  // bytes of the file read and decoded

  mutable std::mutex mu_;
  std::condition_variable more_;  // available_ grew, or stop_
  std::condition_variable idle_;  // processed_ reached available_, or error_
  uint64_t available_ = 0;        // bytes the file holds (Advance)
  uint64_t processed_ = 0;        // bytes decoded
  Status error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tandem::server
