#include "util/clock.h"

#include <chrono>

namespace tandem {

int64_t SystemClock::NowUnixMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}
int64_t SystemClock::MonotonicMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

}  // namespace tandem
