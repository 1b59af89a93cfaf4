// The process's memory allocator: which one it is, what it holds, and
// returning freed memory to the operating system.
//
// tandemd links jemalloc (as redis-server does; CMake option
// TANDEM_JEMALLOC, off in sanitizer and fuzz builds, which need the
// sanitizer's own malloc). Measured against glibc's malloc on this 2-core
// VM (docs/benchmarks.md, fifth session): a burst of 1 KB SETs held the
// leader's loop 540-910 ms (glibc, in `_int_malloc` on a heap fragmented by
// the load and copy-on-write faults after a snapshot fork) against 0-400
// ms. Everything here asks at run time which allocator is linked (jemalloc
// defines `mallctl`), so the same code serves tandemd, the unit tests
// (glibc) and a tandemd started with LD_PRELOAD.
//
// Freed memory: glibc gives back only the free space at the top of its
// heap; memory freed in the middle stays mapped, so after a large release
// (the keyspace cleared to rebuild the state or to install a snapshot) the
// process keeps its peak RSS — 20% more than the same data loaded once, in a
// measured 1M-key rebuild. jemalloc returns unused pages after a decay time
// (10 s by default) but only when it next allocates. ReleaseFreeHeapMemory()
// returns every free page now (glibc: malloc_trim; jemalloc: a purge of
// every arena). It walks the heap (tens of ms for ~1 GB), so call it after
// such releases or when idle, not per request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem {

// "jemalloc-5.3.0-..." when jemalloc is the process's malloc, else "libc".
std::string AllocatorName();

// Bytes the program holds allocated (not what the allocator has mapped).
size_t AllocatedBytes();

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
