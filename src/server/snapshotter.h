// Snapshotter: writes the state machine to snapshot files (SAVE in the
// loop; BGSAVE and automatic snapshots in a fork()ed child, as Redis does,
// so clients are never blocked) and loads the newest one at start-up.
// Snapshots only ever hold committed state: the server calls these only
// when everything applied is durable.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "kv/state_machine.h"
#include "util/env.h"
#include "util/status.h"

namespace tandem::server {

class Snapshotter {
 public:
  Snapshotter() = default;
  void Init(std::string dir, Env* env) {
    dir_ = std::move(dir);
    env_ = env;
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

  // Writes a snapshot of `sm` at `index` synchronously.
  Status SaveNow(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                 const std::string& metadata, int64_t now_unix_ms);
  // Forks a child that writes a snapshot of `sm` at `index`. Busy when one
  // is already running.
  Status StartBackground(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                         const std::string& metadata, int64_t now_unix_ms);
  // Reaps a finished child without blocking. Returns the index of a
  // snapshot that just completed successfully.
  std::optional<uint64_t> Poll(int64_t now_unix_ms);
  // Waits for a running child (shutdown).
  void WaitForChild(int64_t now_unix_ms);

  bool in_progress() const { return child_ > 0; }
  int64_t last_success_unix_ms() const { return last_success_ms_; }
  bool last_status_ok() const { return last_ok_; }
  uint64_t last_index() const { return last_index_; }
  // Size of the newest snapshot file loaded or written (0 when none).
  uint64_t last_file_bytes() const { return last_file_bytes_; }
  // How long the last fork() blocked the server (Redis's latest_fork_usec).
  int64_t latest_fork_usec() const { return latest_fork_usec_; }
  const std::string& dir() const { return dir_; }

 private:
  // Returns the path of the finished file.
  Result<std::string> Write(const kv::StateMachine& sm, uint64_t index, uint64_t term,
                            const std::string& metadata, int64_t now_unix_ms);
  // The snapshot at `index` in file `path` is now the newest.
  void RecordNewest(uint64_t index, const std::string& path);
  std::optional<uint64_t> OnChildExit(int status, int64_t now_unix_ms);

  std::string dir_;
  Env* env_ = nullptr;
  pid_t child_ = -1;
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
