// HardStateFile: the replication core's term and vote, persisted (fsync'd)
// before any message of the same Ready is sent. Format (docs/formats.md,
// "Hard state file"): magic "TNDMHS01" | term u64 | vote u64 | checksum u32
// (Checksum32 of the 24 bytes before it), little-endian, replaced atomically
// (write tmp, fsync, rename, fsync dir).
#pragma once

#include <string>

#include "replication/types.h"
#include "util/env.h"
#include "util/result.h"

namespace tandem::server {

class HardStateFile {
 public:
  HardStateFile(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  // The stored state; a zero state when no file exists yet. Corruption when
  // the file is damaged (the node must not vote twice in a term).
  Result<replication::HardState> Load();
  Status Save(const replication::HardState& state);

 private:
  std::string path() const { return dir_ + "/raft-state"; }
  Env* env_;
  std::string dir_;
};

}  // namespace tandem::server
