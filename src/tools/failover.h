// `tandemctl failover [--to ID] [--timeout MS] HOST:PORT`: a graceful
// leader change. Finds the leader from any member (INFO replication), sends
// it FAILOVER (TO the target member's address when --to is given, as the
// leader's --cluster lists it), waits for the reply and prints the new
// leader.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::tools {

struct FailoverOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  uint64_t to = 0;         // target node id; 0 = the most up-to-date follower
  int64_t timeout_ms = 0;  // 0 = the server's default (10 s)
};

// Exit code 0 once a new leader is known, 1 on failure.
int RunFailover(const FailoverOptions& options);

}  // namespace tandem::tools
