// tandemctl: the operator's tool. `cluster up` starts a local cluster,
// `status` shows the nodes as a table, `failover` moves the leadership
// (docs/operations.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <filesystem>
#include <string>

#include "tools/cluster_up.h"
#include "tools/failover.h"
#include "tools/status.h"

namespace {

std::string SiblingTandemd(const char* argv0) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::filesystem::path dir =
      n > 0 ? std::filesystem::path(std::string(self, static_cast<size_t>(n))).parent_path()
            : std::filesystem::path(argv0).parent_path();
  return (dir / "tandemd").string();
}

bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = colon == 0 ? "127.0.0.1" : s.substr(0, colon);
  try {
    *port = std::stoi(s.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return *port > 0 && *port < 65536;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tandemctl: operate Tandem clusters"};
  app.require_subcommand(1);

  auto* cluster = app.add_subcommand("cluster", "local clusters");
  cluster->require_subcommand(1);
  tandem::tools::ClusterUpOptions up;
  up.tandemd = SiblingTandemd(argv[0]);
  auto* up_cmd = cluster->add_subcommand("up", "start a local cluster in the foreground");
  up_cmd->add_option("--nodes", up.nodes, "number of nodes (1..9)");
  up_cmd->add_option("--base-port", up.base_port, "port of node 1; node i uses base+i-1");
  up_cmd->add_option("--dir", up.dir, "directory holding each node's data dir");
  up_cmd->add_option("--tandemd", up.tandemd, "path to the tandemd binary");
  up_cmd->add_option("node_args", up.extra_args, "extra tandemd flags, after --");

  tandem::tools::StatusOptions st;
  std::string address = "127.0.0.1:6379";
  auto* status_cmd = app.add_subcommand("status", "show the cluster's nodes as a table");
  status_cmd->add_option("address", address, "HOST:PORT of any node");
  status_cmd->add_option("--password", st.password, "the cluster's requirepass");
  status_cmd->add_flag("--watch", st.watch, "refresh every --interval ms");
  status_cmd->add_option("--interval", st.interval_ms, "refresh interval for --watch");

  tandem::tools::FailoverOptions fo;
  std::string failover_address = "127.0.0.1:6379";
  auto* failover_cmd =
      app.add_subcommand("failover", "move the leadership to another node (Redis FAILOVER)");
  failover_cmd->add_option("address", failover_address, "HOST:PORT of any node");
  failover_cmd->add_option("--to", fo.to, "node id of the new leader (default: the most "
                                          "up-to-date follower)");
  failover_cmd->add_option("--timeout", fo.timeout_ms, "ms the transfer may take (default 10000)");
  failover_cmd->add_option("--password", fo.password, "the cluster's requirepass");

  CLI11_PARSE(app, argc, argv);
  if (up_cmd->parsed()) return tandem::tools::RunClusterUp(up);
  if (status_cmd->parsed()) {
    if (!SplitHostPort(address, &st.host, &st.port)) {
      std::fprintf(stderr, "tandemctl: expected HOST:PORT, got '%s'\n", address.c_str());
      return 2;
    }
    return tandem::tools::RunStatus(st);
  }
  if (failover_cmd->parsed()) {
    if (!SplitHostPort(failover_address, &fo.host, &fo.port)) {
      std::fprintf(stderr, "tandemctl: expected HOST:PORT, got '%s'\n", failover_address.c_str());
      return 2;
    }
    return tandem::tools::RunFailover(fo);
  }
  return 0;
}
