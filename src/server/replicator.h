// Replicator: joins this server to a replicated cluster (--cluster with more
// than one member). It drives the replication core (src/replication) from
// the event loop: ticks, peer messages, proposals of the state machine's
// records, the durable log, hard state, snapshots sent to and received from
// peers, and it tells the server when replies may be released.
//
// The leader executes write commands at once on its own state (ahead of the
// commit index) and proposes their records; a reply waits until the
// record reaches the configured durability. Followers apply committed
// entries only. When a node stops leading, its state is rebuilt from its
// snapshot and the committed log, so it never shows data that may be
// rolled back.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replication/core.h"
#include "server/config.h"
#include "server/hard_state_file.h"
#include "server/journal.h"
#include "server/peer_links.h"
#include "server/staged_snapshot_load.h"
#include "util/status.h"

namespace tandem::snapshot {
class SnapshotChunkSource;
}

namespace tandem::server {

class Server;

// How far behind the leader (in entries) a follower counts as catching up:
// the leader keeps its log for it (Replicator::follower_catching_up), the
// follower itself fsyncs in the background (Replicator::catching_up), and
// every member defers its automatic snapshots (Server::snapshot_hold).
inline constexpr uint64_t kCatchingUpLagEntries = 1000;

// What a follower in the cluster looks like to the leader (ROLE, INFO,
// WAIT, tandemctl status).
struct FollowerInfo {
  uint64_t id = 0;
  HostPort address;         // the address this node dials for it
  bool voter = true;
  uint64_t match_index = 0;  // highest log index known to be on it
  int64_t last_ack_ms = -1;  // ms since it last answered, -1 = never
  bool connected = false;
};

class Replicator {
 public:
  Replicator(Server& server, asio::io_context& io, const Config& config, Journal& journal);
  ~Replicator();

  // Builds the core from the persisted hard state, the loaded snapshot's
  // metadata and the log after it. Does not apply anything: followers apply
  // entries as they learn they are committed.
  // snapshot_metadata: the membership stored with that snapshot.
  Status Start(uint64_t snapshot_index, uint64_t snapshot_term,
               const std::string& snapshot_metadata);
  void Stop();
  // Retries a log write that failed (disk full): called from the cron.
  void RetryFailedJournal();
  // Peer `id` has introduced itself on a link it dialed (so it is up, maybe
  // restarted): this node's own link to it redials now if it was waiting
  // to (PeerLinks::RedialIfWaiting).
  void PeerDialedIn(uint64_t id) { peers_.RedialIfWaiting(id); }

  // --- the write path (leader only) ---
  bool is_leader() const;
  // Leader and not handing leadership over: a write may be executed.
  bool accepting_writes() const;
  // Proposes a state-machine record the server has already applied. Returns
  // its log index. If the core refuses (call accepting_writes() first, so
  // this is rare), the state machine is rebuilt to the commit index before
  // the error is returned: the record was not applied.
  Result<uint64_t> Propose(std::string record);
  // Index a reply may be released at under this server's durability level:
  // local durable index (leader), commit index (majority), or the index
  // durable on every voter (all).
  uint64_t released_index() const;
  // Index reads (and other non-write replies) wait for: the local durable
  // index under `leader` durability, else the commit index.
  uint64_t read_released_index() const;
  // Linearizable reads on the leader: registers that some client waits for a
  // leadership confirmation; returns the round it must wait for (one
  // already confirmed when the leader's lease holds now).
  uint64_t RequestReadRound();
  uint64_t confirmed_read_round() const { return confirmed_read_round_; }
  // True when every voter answered within an election timeout (durability
  // `all` refuses writes otherwise).
  bool all_voters_healthy() const;

  // --- followers ---
  // Milliseconds since this node last heard from a leader (0 on the leader).
  int64_t ms_since_leader_contact() const;

  // --- peers ---
  // A message received on an inbound peer link (after the handshake).
  void OnPeerMessage(uint64_t from, std::string_view bytes);
  // A snapshot chunk received from the leader.
  void OnSnapshotChunk(uint64_t from, std::string_view bytes);

  // --- leadership changes ---
  // Starts a leadership transfer to `target` (0 = the most up-to-date
  // follower); `done(ok, message)` is called when a new leader is known or
  // the timeout passes.
  void Failover(uint64_t target, int64_t timeout_ms, std::function<void(bool, std::string)> done);

  // After the server saved a snapshot of its state at `index` (committed
  // and applied): lets the core and the log forget what it covers.
  Status OnSnapshotSaved(uint64_t index);
  // Metadata to store with a snapshot of the state at `index`.
  Result<replication::SnapshotMeta> SnapshotMetaAt(uint64_t index) const;

  // --- observability ---
  replication::CoreStatus status() const;
  uint64_t leader_id() const;
  std::optional<HostPort> leader_address() const;
  uint64_t applied_index() const { return applied_index_; }
  // The state holds entries not yet handed over as committed (a leader's,
  // or a deposed leader's until its entries commit or are replaced).
  bool state_ahead_of_commit() const { return applied_index_ > handed_commit_; }
  uint64_t commit_index() const;
  // Follower: more than kCatchingUpLagEntries behind the leader's commit
  // index (as the leader's latest append said) by what it has applied: a new
  // or restarted node catching up. It fsyncs in the background meanwhile
  // (FlushJournal) and the server holds off its automatic snapshots.
  bool catching_up() const;
  // Follower whose state may be about to grow in bulk: no leader has told
  // it a commit index since it started (maybe empty), it is catching up,
  // a snapshot stream to it is live (a chunk within the last 2 s), or it
  // holds a received snapshot beyond what it has applied, not yet
  // installed. Never a leader.
  bool building_state() const;
  std::vector<FollowerInfo> followers() const;
  // Leader: a follower that answered within the last second is more than
  // kCatchingUpLagEntries behind the log's end, in whatever state the
  // leader's view of it is (a follower being sent a snapshot goes back to
  // probing while the stream lasts over 2 election timeouts). from_log_only:
  // one whose missing entries the log still holds (not one that needs a
  // snapshot).
  bool follower_catching_up(bool from_log_only) const;
  // Follower: the leader's latest append or heartbeat, within the last 2 s,
  // said one of its followers is catching up (Message::peer_catching_up;
  // the leader sends follower_catching_up(false) as of its last check,
  // every 100 ms).
  bool leader_reports_catch_up() const;
  int64_t last_election_unix_ms() const { return last_election_unix_ms_; }
  // Times the event loop did not run for half an election timeout or more
  // (the "event loop stalled" warning), and the longest such pause in ms.
  uint64_t loop_stalls() const { return loop_stalls_; }
  int64_t longest_loop_stall_ms() const { return longest_loop_stall_ms_; }
  std::string last_election_reason() const;

  // Called by the server once per loop turn (posted after inputs).
  void ProcessReady();

 private:
  struct SnapshotReceive;
  static constexpr uint64_t kNoLeader = 0;
  void ScheduleTick();
  void CatchUpTicks();
  // Frees a staged snapshot load no chunk has fed for a while.
  void DropIdleStagedLoad();
  // Leader: re-checks follower_catching_up(false) for peer_catching_up_
  // (at most every 100 ms).
  void RefreshPeerCatchingUp();
  void SaveTruncatedEntries(uint64_t after);
  void ScheduleReady();
  // Writes the journal's new entries and starts their fsync (FlushJournal);
  // tells the core how far the journal is durable (ReportDurable); applies
  // a background fsync that ended (OnJournalFlushed, posted from the log's
  // sync thread).
  void FlushJournal();
  void ReportDurable();
  void OnJournalFlushed();
  asio::awaitable<void> StreamSnapshot(replication::Message msg,
                                       std::shared_ptr<snapshot::SnapshotChunkSource> source);
  void HandleReady(replication::Ready ready);
  void ApplyCommitted(const std::vector<replication::Entry>& entries);
  // Reloads the state machine from the snapshot and the journal up to
  // `index`, dropping entries applied after it.
  void RebuildTo(uint64_t index);
  void OnLeadershipChange(const replication::SoftState& soft);
  void WriteRollbackFile(const std::vector<replication::Entry>& entries, bool uncertain);
  void InstallSnapshot(const replication::SnapshotMeta& meta);
  // Every byte of the snapshot being received is in: verifies it (or takes
  // the staged load's verification), installs it in the snapshot dir and
  // runs an install that waited for it.
  void FinishReceive();
  // FinishReceive once every byte is in and the staged load, if any, has
  // caught up (it posts this from its thread when it does).
  void MaybeFinishReceive();
  void SendSnapshot(const replication::Message& msg);

  Server& server_;
  asio::io_context& io_;
  const Config& config_;
  Journal& journal_;
  HardStateFile hard_state_file_;
  PeerLinks peers_;
  std::unique_ptr<replication::SeededRandom> random_;
  std::unique_ptr<replication::Core> core_;
  asio::steady_timer tick_timer_;
  bool ready_scheduled_ = false;
  uint64_t applied_index_ = 0;
  uint64_t applied_term_ = 0;   // term of the entry at applied_index_ when applied
  uint64_t handed_commit_ = 0;  // highest committed entry the core handed over
  uint64_t next_read_round_ = 1;
  uint64_t requested_read_round_ = 0;
  uint64_t confirmed_read_round_ = 0;
  uint64_t inflight_read_round_ = 0;
  int64_t last_leader_contact_mono_ms_ = 0;
  int64_t last_snapshot_chunk_mono_ms_ = 0;
  bool leader_commit_seen_ = false;  // a leader's append carried a commit index
  // Leader: what its appends and heartbeats say (Message::peer_catching_up).
  bool peer_catching_up_ = false;
  int64_t peer_catching_up_checked_mono_ms_ = 0;
  // Follower: when the leader last said a peer is catching up (0: its
  // latest append or heartbeat said none is).
  int64_t leader_catch_up_hint_mono_ms_ = 0;
  int64_t last_tick_mono_ms_ = 0;
  int64_t last_election_unix_ms_ = 0;
  uint64_t loop_stalls_ = 0;
  int64_t longest_loop_stall_ms_ = 0;
  bool was_leader_ = false;
  bool stopped_ = false;
  uint64_t last_known_leader_ = 0;
  // Expires with the replicator: a fsync's news posted after it is dropped.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::unique_ptr<SnapshotReceive> receive_;
  // The snapshot being received (or received, not yet installed), loaded
  // as it arrives; null when this node does not stage (StagedSnapshotLoad).
  std::unique_ptr<StagedSnapshotLoad> staged_;
  // An install that arrived while the staged load finished (FinishReceive).
  std::optional<replication::SnapshotMeta> pending_install_;
  uint64_t received_snapshot_index_ = 0;
  std::string received_snapshot_path_;
  std::set<uint64_t> snapshot_sending_;
  // The last snapshot streamed completely to each peer (SendSnapshot).
  struct SentSnapshot {
    uint64_t index = 0;
    int64_t done_mono_ms = 0;
    uint64_t bytes = 0;
    uint64_t connection = 0;  // PeerLinks::connections() when it completed
  };
  std::map<uint64_t, SentSnapshot> snapshot_sent_;
};

}  // namespace tandem::server
