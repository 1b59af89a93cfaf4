// Argument parsing shared by SCAN and HSCAN: cursor [MATCH pattern]
// [COUNT n] [TYPE type], with Redis's validation and error texts.
#pragma once

#include <cstdint>
#include <string_view>

#include "kv/command.h"

namespace tandem::kv {

struct ScanOptions {
  uint64_t cursor = 0;
  size_t count = 10;
  std::string_view pattern;  // empty: no filter ("*" is folded to empty)
  std::string_view type;     // empty: no filter
};

// Parses ctx.args[cursor_index] and the options after it. On error replies
// ("ERR invalid cursor", "ERR syntax error", "ERR value is not an integer or
// out of range") and returns false.
bool ParseScanArgs(CommandContext& ctx, size_t cursor_index, bool allow_type, ScanOptions* out);

}  // namespace tandem::kv
