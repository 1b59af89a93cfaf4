// Returning freed heap memory to the operating system.
//
// glibc's malloc gives back only the free space at the top of its heap;
// memory freed in the middle stays mapped, so after a large release (the
// keyspace cleared to rebuild the state or to install a snapshot) the
// process keeps its peak RSS — 20% more than the same data loaded once, in
// a measured 1M-key rebuild. ReleaseFreeHeapMemory() asks the allocator to
// return every free page (malloc_trim). It walks the whole heap (tens of
// ms for a heap of ~1 GB), so call it after such releases, not per request.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem {

struct FreeMemoryReport {
  int64_t rss_before = 0;  // bytes, from /proc/self/statm (0 if unreadable)
  int64_t rss_after = 0;
  double millis = 0;  // time spent in the allocator
};

FreeMemoryReport ReleaseFreeHeapMemory();

// The process's resident set size in bytes (/proc/self/statm; 0 if it
// cannot be read).
size_t ProcessRssBytes();

}  // namespace tandem
