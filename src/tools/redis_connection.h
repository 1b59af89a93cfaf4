// RedisConnection: a small blocking RESP client for tandemctl (status,
// failover) — one command at a time over a TCP socket.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resp/reply.h"
#include "resp/reply_parser.h"
#include "util/result.h"

namespace tandem::tools {

class RedisConnection {
 public:
  RedisConnection() = default;
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects with a timeout; authenticates when password is not empty.
  Status Connect(const std::string& host, int port, int timeout_ms,
                 const std::string& password = "");
  // Sends one command and waits for its reply (an error reply is a Reply,
  // not a failed Result).
  Result<resp::Reply> Call(const std::vector<std::string>& args);

 private:
  int fd_ = -1;
  int timeout_ms_ = 2000;
  resp::ReplyReader reader_;
};

// Parses "INFO" text into key -> value.
std::vector<std::pair<std::string, std::string>> ParseInfo(std::string_view info);

}  // namespace tandem::tools
