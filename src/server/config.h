// Config: everything tandemd is started with, from flags and an optional
// config file with the same keys (docs/configuration.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/result.h"

namespace tandem::server {

enum class Durability { kLeader, kMajority, kAll };
enum class FsyncPolicy { kAlways, kEverySec, kNo };
// How background snapshots are written (server/snapshotter.h).
enum class SnapshotMethod { kCapture, kFork };
// When the heap gets transparent huge pages (--huge-pages; util/allocator.h
// says why): kWhileLoading = while this node builds its state in bulk
// (recovery at start-up, receiving a snapshot, catching up from the
// leader's log), kAlways, kNever.
enum class HugePages { kWhileLoading, kAlways, kNever };

const char* DurabilityName(Durability d);
const char* FsyncPolicyName(FsyncPolicy f);
bool ParseFsyncPolicy(std::string_view s, FsyncPolicy* out);
// "capture" / "fork", as --snapshot-method takes them.
const char* SnapshotMethodName(SnapshotMethod m);
// "while-loading" / "on" / "off".
const char* HugePagesName(HugePages h);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};
// Parses "HOST:PORT" (HOST may be empty = 127.0.0.1, or an IPv6 literal
// in brackets). Port 1..65535.
Result<HostPort> ParseHostPort(std::string_view s);

struct Config {
  uint64_t node_id = 1;
  HostPort listen{"127.0.0.1", 6379};
  HostPort advertise;  // defaults to listen
  std::string data_dir = "./tandem-data";
  // Voting members: node id -> the address this node dials to reach it.
  // Empty = single-node cluster of this node alone.
  std::map<uint64_t, HostPort> cluster;
  std::string cluster_id = "tandem";
  Durability durability = Durability::kMajority;
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  std::string requirepass;
  int heartbeat_ms = 50;
  int election_timeout_ms = 500;
  int max_staleness_ms = 5000;
  std::string log_level = "info";
  std::string log_file;  // empty = stderr
  // Take a snapshot automatically once the log holds this many bytes
  // since the last one (0 = never automatically).
  uint64_t snapshot_log_bytes = 64ull << 20;
  SnapshotMethod snapshot_method = SnapshotMethod::kCapture;
  // --huge-pages auto is kWhileLoading, or kNever with --snapshot-method
  // fork. kNever is applied by tandemd's main before the heap grows.
  HugePages huge_pages = HugePages::kWhileLoading;
  // --heap-prefault: tandemd's main installs util/heap_prefault.h before
  // the server starts.
  bool heap_prefault = true;
  uint64_t wal_segment_bytes = 64ull << 20;
  int maxclients = 10000;
  int active_expire_hz = 10;
  bool daemonize = false;  // accepted for redis.conf familiarity; must be false

  // Command line as given (INFO server).
  std::string executable;
  std::string config_file;
};

// Parses argv (and --config FILE when given: TOML/INI "key = value" lines
// with the flag names as keys). On --help or --version, prints and returns
// NotFound with an empty message so the caller exits 0. Errors name the
// offending flag.
Result<Config> ParseCommandLine(int argc, char** argv);

// Parses "--cluster" syntax: "ID=HOST:PORT,ID=HOST:PORT".
Result<std::map<uint64_t, HostPort>> ParseClusterSpec(std::string_view spec);

}  // namespace tandem::server
