// CommandRate: whether a node has been busy with clients' commands lately
// (Server::ServingClients holds off automatic snapshots while it is).
//
// The owner calls Observe(total commands served so far, monotonic ms) as
// often as it likes (every cron tick and replication progress). Commands
// are counted over windows of at least kMinWindowMs; a window that saw
// kBusyCommandsPerSecond or more marks the node busy at the window's end
// (busy_at_ms), so a busy spell is seen up to one window late and lasts up
// to one window longer than the load. The first window starts at the first
// Observe. A total that went down (a counter reset) starts a new window
// without marking anything.
#pragma once

#include <cstdint>
#include <optional>

namespace tandem::server {

class CommandRate {
 public:
  static constexpr uint64_t kBusyCommandsPerSecond = 1000;
  static constexpr int64_t kMinWindowMs = 250;

  void Observe(uint64_t total_commands, int64_t now_ms) {
    if (!started_ || total_commands < window_start_count_) {
      started_ = true;
      window_start_count_ = total_commands;
      window_start_ms_ = now_ms;
      return;
    }
    int64_t elapsed = now_ms - window_start_ms_;
    if (elapsed < kMinWindowMs) return;
    if ((total_commands - window_start_count_) * 1000 >=
        kBusyCommandsPerSecond * static_cast<uint64_t>(elapsed)) {
      busy_at_ms_ = now_ms;
    }
    window_start_count_ = total_commands;
    window_start_ms_ = now_ms;
  }

  // Whether a busy window ended within `within_ms` before now_ms.
  bool BusyWithin(int64_t now_ms, int64_t within_ms) const {
    return busy_at_ms_.has_value() && now_ms - *busy_at_ms_ < within_ms;
  }

 private:
  bool started_ = false;
  uint64_t window_start_count_ = 0;
  int64_t window_start_ms_ = 0;
  std::optional<int64_t> busy_at_ms_;  // monotonic; end of the last busy window
};

}  // namespace tandem::server
