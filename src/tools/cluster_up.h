// `tandemctl cluster up`: starts a local cluster of tandemd processes in the
// foreground, prefixes each node's log lines with its id, and stops every
// node (SIGTERM, then SIGKILL after a grace period) on Ctrl-C.
#pragma once

#include <string>
#include <vector>

namespace tandem::tools {

struct ClusterUpOptions {
  int nodes = 3;
  int base_port = 7001;
  std::string dir = "./tandem-cluster";
  std::string tandemd;                  // path to the tandemd binary
  std::vector<std::string> extra_args;  // passed to every node
};

// Runs until interrupted; returns the process exit code.
int RunClusterUp(const ClusterUpOptions& options);

}  // namespace tandem::tools
