#include "server/config.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>

namespace tandem::server {

const char* DurabilityName(Durability d) {
  switch (d) {
    case Durability::kLeader: return "leader";
    case Durability::kMajority: return "majority";
    case Durability::kAll: return "all";
  }
  return "?";
}

const char* FsyncPolicyName(FsyncPolicy f) {
  switch (f) {
    case FsyncPolicy::kAlways: return "always";
    case FsyncPolicy::kEverySec: return "everysec";
    case FsyncPolicy::kNo: return "no";
  }
  return "?";
}

bool ParseFsyncPolicy(std::string_view s, FsyncPolicy* out) {
  if (s == "always") *out = FsyncPolicy::kAlways;
  else if (s == "everysec") *out = FsyncPolicy::kEverySec;
  else if (s == "no") *out = FsyncPolicy::kNo;
  else return false;
  return true;
}

const char* HugePagesName(HugePages h) {
  switch (h) {
    case HugePages::kWhileLoading: return "while-loading";
    case HugePages::kAlways: return "on";
    case HugePages::kNever: return "off";
  }
  return "?";
}

const char* SnapshotMethodName(SnapshotMethod m) {
  switch (m) {
    case SnapshotMethod::kCapture: return "capture";
    case SnapshotMethod::kFork: return "fork";
  }
  return "?";
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("expected HOST:PORT, got '" + std::string(s) + "'");
  }
  std::string_view host = s.substr(0, colon), port_str = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_str.data(), port_str.data() + port_str.size(), port);
  if (ec != std::errc() || ptr != port_str.data() + port_str.size() || port == 0 || port > 65535) {
    return Status::InvalidArgument("invalid port in '" + std::string(s) + "'");
  }
  HostPort hp;
  hp.host = host.empty() ? "127.0.0.1" : std::string(host);
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

Result<std::map<uint64_t, HostPort>> ParseClusterSpec(std::string_view spec) {
  std::map<uint64_t, HostPort> members;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("cluster member '" + std::string(item) +
                                     "' is not ID=HOST:PORT");
    }
    uint64_t id = 0;
    std::string_view id_str = item.substr(0, eq);
    auto [ptr, ec] = std::from_chars(id_str.data(), id_str.data() + id_str.size(), id);
    if (ec != std::errc() || ptr != id_str.data() + id_str.size() || id == 0) {
      return Status::InvalidArgument("cluster member id '" + std::string(id_str) +
                                     "' is not a positive integer");
    }
    auto hp = ParseHostPort(item.substr(eq + 1));
    if (!hp.ok()) return hp.status();
    if (!members.emplace(id, *hp).second) {
      return Status::InvalidArgument("cluster member " + std::to_string(id) + " listed twice");
    }
  }
  return members;
}

Result<Config> ParseCommandLine(int argc, char** argv) {
  Config c;
  c.executable = argc > 0 ? argv[0] : "tandemd";
  CLI::App app{"tandemd: a replicated key-value server speaking the Redis protocol"};
  app.set_version_flag("--version", "tandemd 0.1.0");
  app.set_config("--config", "", "config file: the same keys as the flags, 'key = value' lines");
  std::string listen = "127.0.0.1:6379", advertise, cluster, durability = "majority",
              fsync = "always", snapshot_method = "capture", huge_pages = "auto",
              heap_prefault = "on";
  app.add_option("--node-id", c.node_id, "this node's id, a positive integer")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  app.add_option("--listen", listen, "HOST:PORT serving clients and peers");
  app.add_option("--advertise", advertise, "HOST:PORT clients use to reach this node");
  app.add_option("--data-dir", c.data_dir, "directory for the log, snapshots, rollback files");
  app.add_option("--cluster", cluster, "voting members ID=HOST:PORT,... (none: single node)");
  app.add_option("--cluster-id", c.cluster_id, "name shared by every member of one cluster");
  app.add_option("--durability", durability, "leader|majority|all")
      ->check(CLI::IsMember({"leader", "majority", "all"}));
  app.add_option("--fsync", fsync, "always|everysec|no")
      ->check(CLI::IsMember({"always", "everysec", "no"}));
  app.add_option("--requirepass", c.requirepass, "password for clients and peers");
  app.add_option("--heartbeat-ms", c.heartbeat_ms, "leader heartbeat interval")
      ->check(CLI::Range(1, 60000));
  app.add_option("--election-timeout-ms", c.election_timeout_ms, "base election timeout")
      ->check(CLI::Range(10, 600000));
  app.add_option("--max-staleness", c.max_staleness_ms,
                 "ms without a leader after which a follower refuses reads")
      ->check(CLI::Range(0, 86400000));
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log-file", c.log_file, "log to this file instead of stderr");
  app.add_option("--snapshot-log-bytes", c.snapshot_log_bytes,
                 "snapshot automatically when the log grows past this (0 = never)");
  app.add_option("--snapshot-method", snapshot_method,
                 "capture (in this process, no fork) | fork (a child process, as Redis)")
      ->check(CLI::IsMember({"capture", "fork"}));
  app.add_option("--huge-pages", huge_pages,
                 "auto|on|off: transparent huge pages for the heap (auto: while loading "
                 "in bulk, never with --snapshot-method fork)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--heap-prefault", heap_prefault,
                 "on|off: a helper thread faults in new heap memory ahead of its use")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--wal-segment-bytes", c.wal_segment_bytes, "size of one log segment file")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40));
  app.add_option("--maxclients", c.maxclients, "maximum connected clients")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--active-expire-hz", c.active_expire_hz, "active expiry cycles per second")
      ->check(CLI::Range(1, 500));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help / --version
      app.exit(e);
      return Status::NotFound("");
    }
    return Status::InvalidArgument(e.what());
  }
  auto hp = ParseHostPort(listen);
  if (!hp.ok()) return Status::InvalidArgument("--listen: " + hp.status().message());
  c.listen = *hp;
  if (!advertise.empty()) {
    auto adv = ParseHostPort(advertise);
    if (!adv.ok()) return Status::InvalidArgument("--advertise: " + adv.status().message());
    c.advertise = *adv;
  } else {
    c.advertise = c.listen;
  }
  if (!cluster.empty()) {
    auto members = ParseClusterSpec(cluster);
    if (!members.ok()) return Status::InvalidArgument("--cluster: " + members.status().message());
    c.cluster = *members;
    if (!c.cluster.count(c.node_id)) {
      return Status::InvalidArgument("--cluster does not list this node's --node-id " +
                                     std::to_string(c.node_id));
    }
  }
  c.durability = durability == "leader"  ? Durability::kLeader
                 : durability == "all"   ? Durability::kAll
                                         : Durability::kMajority;
  ParseFsyncPolicy(fsync, &c.fsync);
  c.snapshot_method = snapshot_method == "fork" ? SnapshotMethod::kFork : SnapshotMethod::kCapture;
  c.huge_pages = huge_pages == "on"    ? HugePages::kAlways
                 : huge_pages == "off" ? HugePages::kNever
                 : c.snapshot_method == SnapshotMethod::kFork ? HugePages::kNever
                                                                : HugePages::kWhileLoading;
  c.heap_prefault = heap_prefault == "on";
  if (c.election_timeout_ms <= 2 * c.heartbeat_ms) {
    return Status::InvalidArgument("--election-timeout-ms must be more than twice --heartbeat-ms");
  }
  return c;
}

}  // namespace tandem::server
