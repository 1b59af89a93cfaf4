#include "util/free_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

namespace tandem {

size_t ProcessRssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

FreeMemoryReport ReleaseFreeHeapMemory() {
  FreeMemoryReport r;
  r.rss_before = ProcessRssBytes();
  auto start = std::chrono::steady_clock::now();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  r.millis =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.rss_after = ProcessRssBytes();
  return r;
}

}  // namespace tandem
