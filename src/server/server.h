// Server: one tandemd process. Owns the event loop, the client connections,
// the state machine and its durable journal, and the timers (active expiry,
// periodic fsync, automatic snapshots).
//
// Write path: a client's write command runs at once against the state
// machine (kLeader mode), its record is appended to the journal, and the
// reply waits in the client's buffer. Once per loop turn the journal is
// flushed (group commit: one write + fsync for every record of the turn);
// when it is durable, waiting replies are released. Reads wait for the
// last entry they may have seen, so no client ever sees a write that could
// still be lost.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kv/state_machine.h"
#include "server/client.h"
#include "server/command_rate.h"
#include "server/config.h"
#include "server/journal.h"
#include "server/replicator.h"
#include "server/runtime_config.h"
#include "server/snapshotter.h"
#include "util/clock.h"

namespace tandem::server {

// Why an automatic snapshot due now would wait (Server::snapshot_hold,
// INFO persistence tandem_snapshot_hold).
enum class SnapshotHold {
  kNone,
  kWritesFlowing,       // the log grew within this node's quiet time
  kServingClients,      // busy with clients' commands within its quiet time
  kCatchingUp,          // a follower far behind its leader
  kFollowerCatchingUp,  // a leader with a follower far behind
  kPeerCatchingUp,      // a follower whose leader has one far behind
};
const char* SnapshotHoldName(SnapshotHold hold);

class Server {
 public:
  explicit Server(Config config);
  ~Server();

  // Opens the data dir (exclusively), recovers state from the newest
  // snapshot and the log, and binds the listening socket. An error names
  // what is unusable (port taken, data dir not writable, corrupt log).
  Status Start();
  // Runs the event loop until SHUTDOWN or SIGTERM/SIGINT. Returns the
  // process exit code.
  int Run();
  // Asks the loop to stop after flushing the journal (SHUTDOWN, signals).
  void RequestShutdown(std::string_view reason);

  // Executes one command from a client, appending the reply to client.out.
  void Dispatch(Client& client, std::span<const std::string_view> args);

  // --- for command handlers ---
  const Config& config() const { return config_; }
  RuntimeConfig& runtime_config() { return runtime_config_; }
  kv::StateMachine& state_machine() { return state_machine_; }
  Journal& journal() { return journal_; }
  Snapshotter& snapshotter() { return snapshotter_; }
  Clock& clock() { return *clock_; }
  const std::map<uint64_t, Client*>& clients() const { return clients_; }
  int64_t start_time_ms() const { return start_time_ms_; }
  uint64_t total_commands() const { return total_commands_; }
  uint64_t total_connections() const { return total_connections_; }
  uint16_t bound_port() const { return bound_port_; }
  uint64_t expired_keys() const { return expired_keys_; }
  // SAVE: flushes the journal, then writes a snapshot of the current state
  // in the loop. BGSAVE: the same in a child process.
  Status SaveSnapshot();
  Status StartBackgroundSnapshot();
  // Any member, log under 4x AutoSnapshotThreshold(), holds off its
  // automatic snapshots while writes flow (WritesFlowing), and while a
  // member of the cluster catches up (more than kCatchingUpLagEntries
  // behind, from the log or by a snapshot): the leader while one of its
  // followers does, a follower while it does itself or its leader says one
  // of its followers does (maybe this one: a follower being sent a
  // snapshot). Each would compete with the catch-up for the cores
  // (a capture encodes on the loop; measured: with the two other members'
  // snapshots of a 1 GiB dataset a new follower caught up in 5.9-9.1 s,
  // median 7.7, without them in 5.0-8.0 s, median 6.0).
  SnapshotHold snapshot_hold() const;

  // --- replication (cluster mode) ---
  // nullptr when this server runs as a single node.
  Replicator* replicator() { return replicator_.get(); }
  const std::string& snapshot_dir() const { return snapshotter_.dir(); }
  // Rebuilds the state machine from the newest snapshot and the log up to
  // `up_to` (inclusive).
  Status RebuildState(uint64_t up_to);
  // Makes `staged` (a snapshot at `index` loaded while it was received,
  // StagedSnapshotLoad; file `path`) this node's state: the keyspaces are
  // swapped and the old state freed; then as RebuildState(index) from the
  // log. `staged` is left empty.
  Status AdoptState(kv::StateMachine& staged, uint64_t index, const std::string& path,
                    int64_t created_unix_ms);
  // Replication state changed (commit, durability, read confirmations,
  // leadership): releases replies and re-checks blocked clients.
  void OnReplicationProgress();
  // This node stopped leading: replies waiting for entries after `commit`
  // fail (writes with an outcome-unknown error). The state is left as it
  // is; the Replicator rebuilds it if the new leader replaces entries it
  // holds (RebuildState).
  void OnLeadershipLost(uint64_t commit);
  // Applies a password change made by CONFIG SET requirepass.
  void SetRequirePass(std::string pass) { requirepass_ = std::move(pass); }
  const std::string& requirepass() const { return requirepass_; }

 private:
  // Applies the logged entries after snapshot_index up to `up_to`, then
  // returns the freed memory to the system (RebuildState, AdoptState).
  Status ReplayAfterSnapshot(uint64_t snapshot_index, uint64_t up_to);
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> ServeClient(asio::ip::tcp::socket socket);
  asio::awaitable<void> WaitUntilReleasable(Client& client);
  void ScheduleFlush();
  void Flush();
  void WakeReleasableClients();
  void StartTimers();
  void OnCronTick();
  Status OpenDataDir();
  Status Recover();
  // The index up to which replies may be released.
  uint64_t ReleasedIndex() const;
  bool Releasable(const Client& c) const;
  void DispatchPeerFrame(Client& client, std::span<const std::string_view> args);
  void HandlePeerHandshake(Client& client, std::span<const std::string_view> args,
                           resp::Writer& w);
  // Rewrites replies waiting for entries after `keep_upto` into errors.
  void FailPendingReplies(uint64_t keep_upto, const std::string& write_error,
                          const std::string& read_error);
  // Rewrites replies of writes waiting beyond `released` into write_error.
  void FailWritesAbove(uint64_t released, const std::string& write_error);
  Status BindListener();
  void OnJournalFailure(const Status& st);
  void ProbeDisk();
  // Once the server has been idle for 2 s (no command, no log entry) after
  // activity, at most every 30 s: hands the memory freed meanwhile back to the
  // system (util/allocator.h); jemalloc's own decay returns it only when it
  // next allocates. Not under load: it walks the heap (up to tens of ms).
  void MaybeReleaseFreeMemory();
  // --huge-pages auto (HugePages::kWhileLoading): allows transparent huge
  // pages (util/allocator.h) while this node builds its state in bulk
  // (Replicator::building_state; recovery at start-up runs with them, as
  // main leaves them), forbids them otherwise. Checked every cron tick.
  void UpdateHugePages();
  // This node leads and holds off compacting its log after a snapshot: a
  // follower is catching up from it (Replicator::follower_catching_up,
  // from the log; until the log reaches 4x AutoSnapshotThreshold()).
  bool LeaderKeepsLog() const;
  // How long this node's writes or clients must pause before it snapshots:
  // 1-4 seconds (1 + (node id - 1) mod 4: the members of a cluster snapshot
  // one after another after a burst).
  int64_t QuietMs() const;
  // The log grew within the quiet time.
  bool WritesFlowing() const;
  // This node served clients at CommandRate::kBusyCommandsPerSecond or more
  // within the quiet time (command_rate.h: seen up to a window late).
  bool ServingClients() const;
  // The log since the last snapshot is under 4x AutoSnapshotThreshold(): as
  // long as a node may hold off snapshotting and compacting (above).
  bool LogUnderHoldCap() const;
  void MaybeAutoSnapshot();
  // Log bytes since the last snapshot that trigger the next automatic one
  // (--snapshot-log-bytes, at least the last snapshot's size, staggered by
  // node id in a cluster).
  uint64_t AutoSnapshotThreshold() const;
  void CompactAfterSnapshot(uint64_t index);
  struct SnapshotPoint {
    uint64_t index;
    uint64_t term;
    std::string metadata;
  };
  // Where a snapshot may be taken now: an index whose state is committed.
  Result<SnapshotPoint> CommittedSnapshotPoint();
  int64_t NowMs();

  Config config_;
  Clock* clock_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer cron_timer_;
  RuntimeConfig runtime_config_;
  kv::StateMachine state_machine_;
  Journal journal_;
  Snapshotter snapshotter_;
  std::string requirepass_;
  std::unique_ptr<Replicator> replicator_;

  std::map<uint64_t, Client*> clients_;
  std::map<uint64_t, Client*> waiting_;  // clients whose replies wait for a commit
  uint64_t next_client_id_ = 1;
  bool flush_scheduled_ = false;
  bool shutting_down_ = false;
  bool huge_pages_failed_ = false;  // prctl refused once: stop asking
  int exit_code_ = 0;
  int64_t start_time_ms_ = 0;
  int64_t last_now_ms_ = 0;  // the state machine's clock never goes back
  uint64_t total_commands_ = 0;
  uint64_t total_connections_ = 0;
  uint16_t bound_port_ = 0;
  uint64_t expired_keys_ = 0;
  int lock_fd_ = -1;
  int64_t last_disk_probe_ms_ = 0;
  // A background snapshot's index whose log compaction waits (a follower
  // is catching up from that log; see OnCronTick).
  std::optional<uint64_t> pending_compaction_;
  // The log a running background snapshot will cover, counted again if it
  // fails (Journal::AddBytesSinceSnapshot).
  uint64_t log_bytes_at_snapshot_start_ = 0;
  void FinishPendingCompaction();  // compacts now (no-op when none pends)
  // A counter the cron tick samples, and when it last changed.
  struct LastChange {
    uint64_t value = 0;
    int64_t at_ms = 0;  // monotonic
    // Records `v` seen at `now_ms`; returns whether it changed.
    bool Observe(uint64_t v, int64_t now_ms) {
      if (v == value) return false;
      value = v;
      at_ms = now_ms;
      return true;
    }
  };
  LastChange log_growth_;  // the log's last index (WritesFlowing)
  CommandRate command_rate_;  // clients' commands (ServingClients)
  LastChange activity_;    // commands + log entries (MaybeReleaseFreeMemory)
  uint64_t activity_at_last_release_ = 0;
  int64_t last_release_mono_ms_ = 0;
};

}  // namespace tandem::server
