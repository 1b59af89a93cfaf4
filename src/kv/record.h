// Record: the payload of one log entry produced by the state machine: the
// leader's clock at execution time and the commands that describe the
// change (one client command may propagate several, e.g. DEL of an expired
// key then SET). The commands of one record are applied atomically.
// Encoding: docs/formats.md, "State-machine record".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/command.h"
#include "util/result.h"

namespace tandem::kv {

struct Record {
  int64_t now_ms = 0;
  std::vector<Argv> commands;
};

// A decoded record whose arguments point into the encoded bytes: applying a
// logged record needs no copies or allocations once the vectors have grown.
struct RecordView {
  int64_t now_ms = 0;
  std::vector<std::string_view> args;  // every argument of every command, in order
  std::vector<size_t> command_ends;    // command i is args[ends[i-1] .. ends[i])
  size_t command_count() const { return command_ends.size(); }
  std::span<const std::string_view> command(size_t i) const {
    size_t begin = i == 0 ? 0 : command_ends[i - 1];
    return std::span<const std::string_view>(args).subspan(begin, command_ends[i] - begin);
  }
};

std::string EncodeRecord(const Record& r);
Result<Record> DecodeRecord(std::string_view bytes);
// Decodes into *out (its vectors are reused); the same checks as
// DecodeRecord. *out points into `bytes`, which must outlive it.
Status DecodeRecordView(std::string_view bytes, RecordView* out);

}  // namespace tandem::kv
