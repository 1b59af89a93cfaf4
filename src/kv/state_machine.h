// StateMachine: the deterministic heart of a node's data. Given the same
// records in the same order, every node reaches the same keyspace.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "kv/command.h"
#include "kv/keyspace.h"
#include "kv/record.h"
#include "util/status.h"

namespace tandem::kv {

class StateMachine {
 public:
  struct ExecResult {
    bool known = true;   // false: unknown command (reply already written)
    bool write = false;  // the command's spec has kCmdWrite
    Record record;       // what to log; empty commands = nothing changed
  };

  // Runs a client command (args[0] = name, any case) in kLeader or
  // kReplicaRead mode, writing the reply (including arity and unknown-command
  // errors with Redis's texts). In kLeader mode the keyspace is changed at
  // once and the returned record describes the change.
  ExecResult Execute(std::span<const std::string_view> args, resp::Writer& reply, int64_t now_ms,
                     ExecMode mode);

  // Replays a logged record in kApply mode. A command that fails to apply
  // (unknown name, wrong arity) is Corruption: it can only come from a bad log.
  Status Apply(const Record& record);
  // Decodes a record as stored in the log (EncodeRecord) and applies it;
  // Corruption for bytes that are not a record.
  Status ApplyEncoded(std::string_view encoded_record);

  // Active expiry: samples keys with an expiry and erases the expired ones
  // (leader only), returning a record of DELs to log (empty if none).
  // `budget` bounds the keys looked at.
  Record ExpireCycle(int64_t now_ms, size_t budget);

  // A digest of the whole keyspace (keys, types, values, expiries),
  // independent of insertion order (DEBUG DIGEST). All zeros when empty.
  std::string Digest() const;

  // Snapshot support. WriteSnapshot calls sink once per key with a
  // self-contained encoded entry (docs/formats.md, "Keyspace snapshot entry");
  // a non-OK status from sink stops it and is returned. LoadSnapshotEntry
  // adds one such entry to the keyspace (Corruption on bad bytes).
  Status WriteSnapshot(const std::function<Status(std::string_view entry)>& sink) const;
  Status LoadSnapshotEntry(std::string_view entry);

  Keyspace& keyspace() { return db_; }
  const Keyspace& keyspace() const { return db_; }

 private:
  Status ApplyView(const RecordView& record);

  Keyspace db_;
  uint64_t random_state_ = 0x9e3779b97f4a7c15ull;
  // Reused by ApplyEncoded so applying a logged record does not allocate.
  RecordView decoded_;
  std::string apply_replies_;
};

}  // namespace tandem::kv
