// Env: every OS file call made by the log (wal/) and snapshots (snapshot/)
// goes through this interface, so tests can inject write/fsync failures and
// simulate a crash that loses everything not yet fsync'd.
//
// PosixEnv is the real implementation: plain blocking syscalls, no threads,
// no global locks, so it is safe to use in a fork()ed child (BGSAVE-style
// snapshots). FaultInjectionEnv wraps another Env for tests.
//
// All paths are plain strings; errors come back as Status (FromErrno maps
// ENOSPC/EDQUOT to NoSpace, everything else to IOError). No exceptions.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"
#include "util/status.h"

namespace tandem {

enum class OpenMode {
  kReadOnly,        // must exist
  kReadWrite,       // must exist, opened for reading and writing
  kCreate,          // create if missing, keep existing contents
  kCreateTruncate,  // create if missing, truncate to zero length
};

// An open file. Not thread-safe. Closing happens in the destructor.
class File {
 public:
  virtual ~File() = default;
  virtual const std::string& path() const = 0;

  // Writes all of `data` at `offset` (pwrite). On error some prefix of the
  // data may have reached the file; the caller must not assume either way.
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Writes at the append position: the file size at open time plus every
  // byte appended since. The position only advances on success.
  virtual Status Append(std::string_view data) = 0;
  // Reads up to n bytes at offset into dst. Returns the number read, which
  // is less than n only at end of file.
  virtual Result<size_t> ReadAt(uint64_t offset, size_t n, char* dst) = 0;
  // fsync: data and metadata durable.
  virtual Status Sync() = 0;
  // fdatasync: data (and the size) durable.
  virtual Status DataSync() = 0;
  // Sets the file size (ftruncate). Also moves the append position there.
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
  // Starts writing the range's dirty pages to the disk without waiting for
  // them to be written (sync_file_range SYNC_FILE_RANGE_WRITE; the call may
  // still block while the device's queue is full), so that a later Sync or
  // DataSync has less left to wait for. Makes nothing durable by itself
  // (no metadata, no disk cache flush): only Sync or DataSync does, and
  // reports the errors; so this reports none.
  virtual void StartWriteback(uint64_t offset, uint64_t length) = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) = 0;
  // rename(2): atomically replaces `to`. Durable only after SyncDir.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // unlink(2). NotFound if missing.
  virtual Status DeleteFile(const std::string& path) = 0;
  // mkdir -p. OK if the directory already exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  // Names (not paths) of the entries in dir, without "." and "..", unsorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Truncates a file by path (open + ftruncate + close).
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // fsyncs a directory so created/renamed/deleted names are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Bytes available to an unprivileged user on the filesystem holding dir.
  virtual Result<uint64_t> FreeBytes(const std::string& dir) = 0;

  // Reads a whole file into *out.
  Status ReadFileToString(const std::string& path, std::string* out);

  // The process-wide PosixEnv.
  static Env* Default();
};

// "dir/name" (no doubled slash).
std::string JoinPath(std::string_view dir, std::string_view name);

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status CreateDirs(const std::string& dir) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  Result<uint64_t> FreeBytes(const std::string& dir) override;
};

// FaultInjectionEnv: a test Env over a base Env (normally PosixEnv on a temp
// directory) that
//  - fails writes (WriteAt/Append/Truncate) and/or syncs (Sync/DataSync/
//    SyncDir) with a chosen errno (ENOSPC, EIO, ...) until cleared,
//    optionally letting a failing write put half its bytes on disk first
//    (a short write);
//  - remembers, per file it opened for writing, the contents as of the last
//    successful Sync/DataSync, and on SimulateCrash() puts every such file
//    back to those contents (files never synced are deleted), like a power
//    loss. Optionally a failed sync also drops the unsynced data at once
//    (Linux may discard dirty pages after a failed fsync).
//
// Model limits (documented, deliberate): unlink and rename are treated as
// durable at once (directory fsync is counted but not modelled); files that
// existed before the env first opened them count as durable as found.
// Open File handles must be destroyed before SimulateCrash(). Thread-safe
// (one lock around every call), so a log's sync thread may use it.
class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Every write after the next `after_ok` successful ones fails with errno
  // `err` until ClearFaults(). With short_write, a failing WriteAt/Append
  // first writes the first half of its data.
  void FailWrites(int err, int after_ok = 0, bool short_write = false);
  // Every Sync/DataSync/SyncDir after the next `after_ok` successful ones
  // fails with errno `err` until ClearFaults(). With drop_unsynced, a failed
  // file sync also reverts that file to its last synced contents.
  void FailSyncs(int err, int after_ok = 0, bool drop_unsynced = false);
  // Ends every injected fault, FailDeletes and the holds included.
  void ClearFaults();
  // While held, WriteAt and Append wait (outside the env's lock) until
  // released: tests see what a caller does while a disk write is slow.
  void HoldWrites(bool hold);
  // How many WriteAt/Append calls are waiting on HoldWrites now.
  int held_writes() const {
    std::lock_guard lock(hold_mu_);
    return held_writes_;
  }
  // While held, DeleteFile waits (outside the env's lock) until released:
  // tests see what a caller does while a background deletion is slow.
  void HoldDeletes(bool hold);
  // The next `count` DeleteFile calls (every one if count < 0) fail with
  // errno `err` (0: none) until changed.
  void FailDeletes(int err, int count = -1);
  // Paths DeleteFile removed, in order.
  std::vector<std::string> deleted_files() const {
    std::lock_guard lock(mu_);
    return deleted_;
  }

  // Reverts every tracked file to its last synced contents (deleting files
  // that were never synced) and forgets all unsynced state.
  Status SimulateCrash();

  // Counters for tests that check the number of syscalls.
  int write_calls() const {
    std::lock_guard lock(mu_);
    return write_calls_;
  }
  int sync_calls() const {
    std::lock_guard lock(mu_);
    return sync_calls_;
  }
  // Every File::StartWriteback through this env, in order.
  struct WritebackCall {
    std::string path;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  std::vector<WritebackCall> writeback_calls() const {
    std::lock_guard lock(mu_);
    return writeback_calls_;
  }

  Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  Result<uint64_t> FreeBytes(const std::string& dir) override { return base_->FreeBytes(dir); }

 private:
  friend class FaultInjectionFile;
  struct Fault {
    int err = 0;
    int after_ok = 0;
    bool flag = false;  // short_write / drop_unsynced
  };
  // Returns the errno to fail with (0 = let the call through).
  static int NextFault(Fault* fault);
  // Waits while HoldWrites is on.
  void WaitWhileWritesHeld();
  mutable std::mutex hold_mu_;  // apart from mu_: a held call must not block the rest
  std::condition_variable hold_cv_;
  bool hold_deletes_ = false;
  bool hold_writes_ = false;
  int held_writes_ = 0;
  int delete_fault_ = 0;
  int delete_faults_left_ = -1;  // < 0: unlimited
  // Starts tracking `path` before its first modification.
  void Track(const std::string& path);
  Status RecordSynced(const std::string& path);
  Status RevertToSynced(const std::string& path);

  Env* base_;
  mutable std::recursive_mutex mu_;  // guards everything below
  Fault write_fault_;
  Fault sync_fault_;
  int write_calls_ = 0;
  int sync_calls_ = 0;
  std::vector<WritebackCall> writeback_calls_;
  // Tracked files: last synced contents, or nullopt if never synced.
  std::map<std::string, std::optional<std::string>> synced_;
  std::vector<std::string> deleted_;  // paths DeleteFile removed, in order
};

}  // namespace tandem
