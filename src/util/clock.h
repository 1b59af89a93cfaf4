// Clock: the only source of time for code that must be testable. Production
// code gets SystemClock; tests inject a ManualClock.
#pragma once

#include <cstdint>

namespace tandem {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (used for key expiry).
  virtual int64_t NowUnixMs() = 0;
  // Monotonic milliseconds from an arbitrary origin (timeouts, latencies).
  virtual int64_t MonotonicMs() = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() override;
  int64_t MonotonicMs() override;
  static SystemClock* Default();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_ms = 1'700'000'000'000) : unix_ms_(unix_ms) {}
  int64_t NowUnixMs() override { return unix_ms_; }
  int64_t MonotonicMs() override { return mono_ms_; }
  void Advance(int64_t ms) { unix_ms_ += ms; mono_ms_ += ms; }

 private:
  int64_t unix_ms_;
  int64_t mono_ms_ = 0;
};

}  // namespace tandem
