#include "util/free_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace tandem {
namespace {

int64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long size = 0, resident = 0;
  int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * sysconf(_SC_PAGESIZE) : 0;
}

}  // namespace

FreeMemoryReport ReleaseFreeHeapMemory() {
  FreeMemoryReport r;
  r.rss_before = ResidentBytes();
  auto start = std::chrono::steady_clock::now();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  r.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.rss_after = ResidentBytes();
  return r;
}

}  // namespace tandem
