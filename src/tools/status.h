// `tandemctl status HOST:PORT [--watch]`: the cluster as a table, one row
// per node (node, address, role, term, commit, applied, lag, health).
#pragma once

#include <string>

namespace tandem::tools {

struct StatusOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  bool watch = false;
  int interval_ms = 1000;
};

int RunStatus(const StatusOptions& options);

}  // namespace tandem::tools
