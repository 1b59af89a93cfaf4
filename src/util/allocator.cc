#include "util/allocator.h"

#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string_view>

// jemalloc's control interface. Weak: null unless jemalloc is linked (or
// preloaded), which is how this file tells the allocators apart.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

namespace tandem {
namespace {

bool JemallocLinked() { return mallctl != nullptr; }

// jemalloc's MALLCTL_ARENAS_ALL: "arena.<i>.purge" with i = 4096 purges
// every arena.
constexpr const char* kPurgeAllArenas = "arena.4096.purge";

// The system's THP mode: the bracketed word of
// /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never"),
// empty if the kernel has none.
std::string SystemThpMode() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(f, line)) return "";
  size_t open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return line.substr(open + 1, close - open - 1);
}

}  // namespace

bool AllocatorAsksForHugePages() {
  if (!JemallocLinked()) return false;
  const char* thp = nullptr;
  size_t len = sizeof(thp);
  return mallctl("opt.thp", &thp, &len, nullptr, 0) == 0 && thp != nullptr &&
         std::string_view(thp) == "always";
}

std::string AllocatorName() {
  if (!JemallocLinked()) return "libc";
  const char* version = nullptr;
  size_t len = sizeof(version);
  if (mallctl("version", &version, &len, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  return std::string("jemalloc-") + version;
}

size_t AllocatedBytes() {
  if (JemallocLinked()) {
    // Statistics are cached; advancing the epoch refreshes them.
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    mallctl("epoch", &epoch, &len, &epoch, len);
    size_t allocated = 0;
    len = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) == 0) return allocated;
    return 0;
  }
#if defined(__GLIBC__)
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

size_t ProcessRssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t AnonHugePageBytes() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string key;
  size_t kib = 0;
  while (f >> key) {
    if (key == "AnonHugePages:") return f >> kib ? kib * 1024 : 0;
    f.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

bool SetTransparentHugePages(bool allow) {
  return prctl(PR_SET_THP_DISABLE, allow ? 0 : 1, 0, 0, 0) == 0;
}

bool TransparentHugePagesAllowed() { return prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0; }

std::string TransparentHugePagesState() {
  std::string mode = SystemThpMode();
  if (mode.empty() || mode == "never") return "unavailable";
  if (!TransparentHugePagesAllowed()) return "off";
  if (mode == "always" || AllocatorAsksForHugePages()) return "on";
  return "off";
}

FreeMemoryReport ReleaseFreeHeapMemory() {
  FreeMemoryReport r;
  r.rss_before = ProcessRssBytes();
  auto start = std::chrono::steady_clock::now();
  if (JemallocLinked()) {
    mallctl(kPurgeAllArenas, nullptr, nullptr, nullptr, 0);
  } else {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
  }
  r.millis =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.rss_after = ProcessRssBytes();
  return r;
}

}  // namespace tandem
