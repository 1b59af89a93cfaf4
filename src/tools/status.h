// `tandemctl status HOST:PORT [--watch]`: the cluster as a table, one row
// per member (node, address, role, term, commit, applied, lag, health).
// The member list comes from the given node's INFO (tandem_members); every
// member is then asked for its own INFO, and one that does not answer shows
// as down.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace tandem::tools {

struct StatusOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  bool watch = false;
  int interval_ms = 1000;
};

// Exit code 0 when every member is healthy and one leader is known, 1
// otherwise; --watch runs until interrupted.
int RunStatus(const StatusOptions& options);

// --- shared with `tandemctl failover` ---

struct MemberAddress {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// Parses INFO's "tandem_members:1=host:port,2=host:port".
std::map<uint64_t, MemberAddress> ParseMembers(const std::string& value);

// INFO of one node as key -> value; nullopt (with *error set) when the node
// cannot be reached or answers with an error.
std::optional<std::map<std::string, std::string>> FetchInfo(const std::string& host, int port,
                                                            const std::string& password,
                                                            std::string* error,
                                                            int timeout_ms = 1000);

}  // namespace tandem::tools
