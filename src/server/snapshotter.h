// Snapshotter: writes the state machine to snapshot files (SAVE in the
// loop; BGSAVE and automatic snapshots in the background, so clients are
// never blocked) and loads the newest one at start-up. Snapshots only ever
// hold committed state: the server calls these only when everything
// applied is durable.
//
// Two ways to write in the background (--snapshot-method,
// docs/configuration.md):
//  - kCapture (default): in this process, without fork(). The keyspace is
//    captured (Keyspace::BeginCapture); the loop encodes the captured keys
//    in small steps posted between its other work, and a key a command is
//    about to change first; a thread checksums, writes and syncs
//    (snapshot/async_snapshot_writer.h). No copy-on-write faults, no
//    second copy of the pages that change.
//  - kFork: a fork()ed child writes the parent's memory as it was, as
//    Redis does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kv/state_machine.h"
#include "server/config.h"
#include "snapshot/async_snapshot_writer.h"
#include "util/env.h"
#include "util/status.h"

namespace tandem::server {

class Snapshotter {
 public:
  // Runs a function later on the loop thread; callable from any thread.
  using Post = std::function<void(std::function<void()>)>;

  Snapshotter() = default;
  ~Snapshotter();
  void Init(std::string dir, Env* env, SnapshotMethod method, Post post) {
    dir_ = std::move(dir);
    env_ = env;
    method_ = method;
    post_ = std::move(post);
  }

  // Loads the newest valid snapshot that reaches the log (whose first
  // entry is log_first_index) into `sm`, which must be empty, and returns
  // its last included index (0 when there is none).
  struct Loaded {
    uint64_t index = 0;  // 0 when there is no snapshot
    uint64_t term = 0;
    std::string metadata;  // cluster membership, opaque here
  };
  Result<Loaded> LoadNewest(kv::StateMachine& sm, uint64_t log_first_index);

  // The snapshot at `index`, file `path`, written at created_unix_ms, is
  // now the state's (loaded by a caller: a follower's staged load).
  void RecordLoaded(uint64_t index, const std::string& path, int64_t created_unix_ms);

  // Writes a snapshot of `sm` at `index` synchronously.
  Status SaveNow(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                 const std::string& metadata, int64_t now_unix_ms);
  // Starts writing a snapshot of `sm` at `index` in the background (see
  // the file comment). Busy when one is already running.
  Status StartBackground(kv::StateMachine& sm, uint64_t index, uint64_t term,
                         const std::string& metadata, int64_t now_unix_ms);
  // Without blocking: reaps a finished child, or ends a finished (or
  // failed) capture. Returns the index of a snapshot that just completed
  // successfully.
  std::optional<uint64_t> Poll(int64_t now_unix_ms);
  // Shutdown: waits for a running child; abandons a capture (its .tmp is
  // deleted; the log still holds everything it would have covered).
  void WaitForChild(int64_t now_unix_ms);
  // Abandons a capture in progress (the keyspace is about to be replaced).
  // A child is left to finish: it writes committed state from its own copy.
  void AbandonCapture(const char* why);

  // A snapshot is being written, or an abandoned one's thread is still
  // stopping (a new one would reuse its file name).
  bool in_progress() const { return child_ > 0 || capture_ != nullptr || retiring_ != nullptr; }
  // Whether a child process shares this process's pages (copy-on-write).
  bool child_running() const { return child_ > 0; }
  int64_t last_success_unix_ms() const { return last_success_ms_; }
  bool last_status_ok() const { return last_ok_; }
  uint64_t last_index() const { return last_index_; }
  // Size of the newest snapshot file loaded or written (0 when none).
  uint64_t last_file_bytes() const { return last_file_bytes_; }
  // How long the last fork() blocked the server (Redis's latest_fork_usec).
  int64_t latest_fork_usec() const { return latest_fork_usec_; }
  const std::string& dir() const { return dir_; }
  SnapshotMethod method() const { return method_; }

 private:
  static snapshot::SnapshotMeta Meta(uint64_t index, uint64_t term, const std::string& metadata,
                                     int64_t now_unix_ms);
  // Returns the path of the finished file.
  Result<std::string> Write(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                            const std::string& metadata, int64_t now_unix_ms);
  // The snapshot at `index` in file `path` is now the newest.
  void RecordNewest(uint64_t index, const std::string& path);
  std::optional<uint64_t> OnChildExit(int status, int64_t now_unix_ms);

  Status StartFork(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                   const std::string& metadata, int64_t now_unix_ms);
  Status StartCapture(kv::StateMachine& sm, uint64_t index, uint64_t term,
                      const std::string& metadata, int64_t now_unix_ms);
  // One step of the capture `generation`: encodes about a batch of keys
  // and posts the next step unless the writer's queue is full (its
  // on_event posts it then).
  void CaptureStep(uint64_t generation);
  void PostCaptureStep();
  std::optional<uint64_t> PollCapture(int64_t now_unix_ms);
  // Ends the capture; a writer still running moves to retiring_.
  void EndCapture();
  void ReapRetiring();

  struct Capture {
    uint64_t generation = 0;
    kv::Keyspace* keyspace = nullptr;
    std::unique_ptr<snapshot::AsyncSnapshotWriter> writer;
    Status error;            // an entry that could not be framed
    bool finishing = false;  // every key handed to the writer
  };

  std::string dir_;
  Env* env_ = nullptr;
  SnapshotMethod method_ = SnapshotMethod::kCapture;
  Post post_;
  std::unique_ptr<Capture> capture_;
  // The writer of an abandoned capture, until its thread has stopped.
  std::unique_ptr<snapshot::AsyncSnapshotWriter> retiring_;
  uint64_t capture_generation_ = 0;
  pid_t child_ = -1;
  // The background snapshot in progress (child or capture).
  uint64_t child_index_ = 0;
  uint64_t child_term_ = 0;
  int64_t child_started_ms_ = 0;
  int64_t last_success_ms_ = 0;
  bool last_ok_ = true;
  uint64_t last_index_ = 0;
  uint64_t last_file_bytes_ = 0;
  int64_t latest_fork_usec_ = 0;
};

}  // namespace tandem::server
