// The longest single keyspace operation while the table resizes: inserts N
// keys "key:<i>" (growing the table from empty through every doubling), then
// erases them all (shrinking it), timing each Set and Erase on its own. A
// table that rehashes everything at once shows the resize as one slow
// operation (the event loop's stall); an incremental one spreads it out.
// Each operation's wall time and its thread CPU time are recorded: on a
// busy machine the wall maximum includes preemption, the CPU maximum is the
// operation's own work. Also times a GET pass over the whole table.
//
// Usage: keyspace_stall_bench [keys=2000000] [ttl]   (ttl: every key gets
// an expiry too, which exercises the expiry index's resizes)
#include <algorithm>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kv/keyspace.h"

namespace {

using namespace tandem;
using Clock = std::chrono::steady_clock;

double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct Latencies {
  std::vector<double> ns;
  std::vector<double> cpu_ns;
  template <typename Fn>
  void Time(Fn&& fn) {
    double c0 = ThreadCpuNs();
    auto t0 = Clock::now();
    fn();
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    cpu_ns.push_back(ThreadCpuNs() - c0);
  }
  void Report(const char* what) {
    Report(what, "wall", ns);
    Report(what, "cpu", cpu_ns);
    if (std::getenv("STALL_TOP") != nullptr) {
      std::vector<size_t> idx(cpu_ns.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      std::partial_sort(idx.begin(), idx.begin() + 8, idx.end(),
                        [&](size_t a, size_t b) { return cpu_ns[a] > cpu_ns[b]; });
      for (int i = 0; i < 8; ++i) {
        std::printf("  op %zu: cpu %.3f ms wall %.3f ms\n", idx[i], cpu_ns[idx[i]] / 1e6,
                    ns[idx[i]] / 1e6);
      }
    }
  }
  static void Report(const char* what, const char* clock, const std::vector<double>& values) {
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    double total = 0;
    for (double v : sorted) total += v;
    auto at = [&](double q) { return sorted[static_cast<size_t>(q * (sorted.size() - 1))]; };
    size_t over_1ms = static_cast<size_t>(
        sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), 1e6));
    std::printf("%-10s %-4s %8zu ops: mean %6.0f ns  p99 %6.0f ns  p99.99 %8.0f ns  max %10.3f ms  "
                "ops > 1 ms: %zu  total %.0f ms\n",
                what, clock, sorted.size(), total / sorted.size(), at(0.99), at(0.9999),
                sorted.back() / 1e6, over_1ms, total / 1e6);
  }
};

std::string Key(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key:%012zu", i);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
  bool ttl = argc > 2 && std::string(argv[2]) == "ttl";
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(Key(i));

  kv::Keyspace ks;
  Latencies sets, erases;
  sets.ns.reserve(n);
  sets.cpu_ns.reserve(n);
  erases.ns.reserve(n);
  erases.cpu_ns.reserve(n);
  int64_t at = 1700000000000;
  for (const std::string& k : keys) {
    sets.Time([&] {
      ks.Set(k, kv::Object::String("xxx"));
      if (ttl) ks.SetExpire(k, at++);
    });
  }
  sets.Report(ttl ? "SET+EXPIRE" : "SET");

  // GETs over the whole table.
  auto t0 = Clock::now();
  size_t found = 0;
  int64_t expire_at;
  for (const std::string& k : keys) found += ks.Access(k, &expire_at, -1) != nullptr;
  double get_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
  std::printf("GET %zu hits: %.0f ns/op\n", found, get_ns);

  for (const std::string& k : keys) erases.Time([&] { ks.Erase(k); });
  erases.Report("DEL");
  return 0;
}
