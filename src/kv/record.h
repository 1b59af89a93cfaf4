// Record: the payload of one log entry produced by the state machine: the
// leader's clock at execution time and the commands that describe the
// change (one client command may propagate several, e.g. DEL of an expired
// key then SET). The commands of one record are applied atomically.
// Encoding: docs/formats.md, "State-machine record".
#pragma once

#include <cstdint>
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

std::string EncodeRecord(const Record& r);
Result<Record> DecodeRecord(std::string_view bytes);

}  // namespace tandem::kv
