// Process-wide logging setup (spdlog): level names as the --log-level flag
// takes them, to stderr or a file, each line stamped with time and level.
#pragma once

#include <string>

#include "util/status.h"

namespace tandem::server {

Status SetUpLogging(const std::string& level, const std::string& file, uint64_t node_id);

}  // namespace tandem::server
