// The process's memory allocator: which one it is, what it holds,
// returning freed memory to the operating system, and transparent huge
// pages for the heap.
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

// Transparent huge pages (THP). tandemd defines jemalloc's `malloc_conf`
// as kTandemJemallocConf (src/tools/tandemd.cc): "thp:always" makes jemalloc
// madvise(MADV_HUGEPAGE) its heap when the system's THP mode is "madvise"
// (under "always" the kernel needs no asking), so new heap memory may be
// backed by 2 MiB pages while the process allows them: a page fault per 2
// MiB instead of per 4 KiB as the heap grows. On this VM a fault costs tens
// of microseconds: a new follower's 1 GiB catch-up took 5.1-5.9 s instead
// of 14.1-14.6 s with every node allowing them (docs/benchmarks.md, seventh
// session). But allowed all the time, GETs of 1 KB values after a burst of
// SETs ran at half the speed in the benchmark, and after a fork() the
// copy-on-write of huge pages stalled a forked snapshot's parent for
// seconds (Redis forbids THP for itself). So by default (--huge-pages auto)
// tandemd allows them only while it builds its state in bulk
// (Server::UpdateHugePages). util/heap_prefault.h moves the faults of a
// growing heap to a helper thread.
//
// SetTransparentHugePages(allow) allows or forbids them for the whole
// process and its children from now on (prctl PR_SET_THP_DISABLE): memory
// already faulted in keeps its pages. False (errno set) if the kernel
// refused.
bool SetTransparentHugePages(bool allow);
// Whether this process allows them now (PR_GET_THP_DISABLE; the flag is
// inherited from the parent, which may have forbidden them).
bool TransparentHugePagesAllowed();
// Whether the allocator marks its own mappings for huge pages (jemalloc's
// "opt.thp" is "always", as kTandemJemallocConf sets; false under glibc).
bool AllocatorAsksForHugePages();

// jemalloc's options built into tandemd (its `malloc_conf` symbol, read
// before main): huge pages for the heap and for jemalloc's own metadata.
inline constexpr char kTandemJemallocConf[] = "thp:always,metadata_thp:auto";

// Bytes of this process's memory now backed by huge pages (AnonHugePages
// of /proc/self/smaps_rollup; 0 if unreadable). Walks the page tables: not
// for a hot path.
size_t AnonHugePageBytes();

// What new heap memory gets: "on" (huge pages where the kernel can find
// them), "off" (this process turned them off, or its allocator does not ask
// for them under the system's "madvise" mode) or "unavailable" (the system's
// mode is "never", or the kernel has no THP).
std::string TransparentHugePagesState();

}  // namespace tandem
