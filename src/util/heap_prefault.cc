#include "util/heap_prefault.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "util/allocator.h"

// jemalloc's control interface; weak, as in allocator.cc: null unless
// jemalloc is linked.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp,
                       size_t newlen) __attribute__((weak));

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace tandem {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// jemalloc 5's extent hooks (struct extent_hooks_s of jemalloc/jemalloc.h,
// unchanged since 5.0), declared here so util builds without jemalloc's
// headers. Bool results: false = done, true = refused.
struct ExtentHooks;
using AllocHook = void*(ExtentHooks*, void* new_addr, size_t size, size_t alignment, bool* zero,
                        bool* commit, unsigned arena);
using DallocHook = bool(ExtentHooks*, void* addr, size_t size, bool committed, unsigned arena);
using DestroyHook = void(ExtentHooks*, void* addr, size_t size, bool committed, unsigned arena);
// commit, decommit, purge_lazy and purge_forced.
using RangeHook = bool(ExtentHooks*, void* addr, size_t size, size_t offset, size_t length,
                       unsigned arena);
using SplitHook = bool(ExtentHooks*, void* addr, size_t size, size_t size_a, size_t size_b,
                       bool committed, unsigned arena);
using MergeHook = bool(ExtentHooks*, void* addr_a, size_t size_a, void* addr_b, size_t size_b,
                       bool committed, unsigned arena);
struct ExtentHooks {
  AllocHook* alloc;
  DallocHook* dalloc;
  DestroyHook* destroy;
  RangeHook* commit;
  RangeHook* decommit;
  RangeHook* purge_lazy;
  RangeHook* purge_forced;
  SplitHook* split;
  MergeHook* merge;
};

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kStep = uintptr_t{2} << 20;  // the helper's unit of work
// One MADV_POPULATE_WRITE call: it holds the mmap lock for reading, which
// fork(), prctl and mmap wait for.
constexpr uintptr_t kPopulateCall = uintptr_t{256} << 10;
constexpr size_t kGrowLimit = size_t{2} << 20;   // each arena's retained growth
constexpr uintptr_t kMaxLead = uintptr_t{32} << 20;
constexpr auto kRateWindow = 100ms;
constexpr auto kIdleRelease = 10s;
constexpr size_t kLargestRange = size_t{64} << 30;
constexpr size_t kSmallestRange = size_t{1} << 30;

struct State {
  void* mapping = nullptr;  // what mmap returned, and its length
  size_t mapping_bytes = 0;
  uintptr_t begin = 0;  // the range: the mapping aligned to kStep
  uintptr_t end = 0;
  ExtentHooks* defaults = nullptr;  // jemalloc's own hooks
  // [begin, frontier) has been carved (handed to jemalloc, or given back);
  // [begin, populated) has been populated or skipped by the helper.
  std::atomic<uintptr_t> frontier{0};
  std::atomic<uintptr_t> populated{0};
  std::atomic<size_t> carved_bytes{0};
  std::atomic<size_t> populated_bytes{0};
  std::atomic<size_t> released_bytes{0};
  std::mutex mu;
  std::condition_variable wake;
  // Set in a forked child (no helper there; the condition variable may
  // have been copied mid-use).
  std::atomic<bool> in_child{false};
};

State* g_state = nullptr;  // set once by InstallHeapPrefault, never freed

bool InRange(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  return a >= g_state->begin && a < g_state->end;
}

uintptr_t RoundUp(uintptr_t v, uintptr_t to) { return (v + to - 1) & ~(to - 1); }

// Carves [start, start + size) from the frontier; 0 when the range is used
// up.
uintptr_t Carve(size_t size, size_t alignment) {
  State& s = *g_state;
  uintptr_t f = s.frontier.load(std::memory_order_relaxed);
  for (;;) {
    uintptr_t start = RoundUp(f, std::max<uintptr_t>(alignment, kPage));
    if (start < f || start > s.end || s.end - start < size) return 0;
    if (s.frontier.compare_exchange_weak(f, start + size, std::memory_order_acq_rel)) return start;
  }
}

void* Alloc(ExtentHooks*, void* new_addr, size_t size, size_t alignment, bool* zero, bool* commit,
            unsigned arena) {
  State& s = *g_state;
  if (new_addr == nullptr) {
    if (uintptr_t start = Carve(size, alignment)) {
      s.carved_bytes.fetch_add(size, std::memory_order_relaxed);
      // Never handed out before: zero (the helper only reads it).
      *zero = true;
      *commit = true;
      if (start + size + kStep > s.populated.load(std::memory_order_relaxed) &&
          !s.in_child.load(std::memory_order_relaxed)) {
        s.wake.notify_one();  // no allocation: safe inside jemalloc
      }
      return reinterpret_cast<void*>(start);
    }
  } else if (InRange(new_addr)) {
    return nullptr;  // no extending in place inside the range
  }
  return s.defaults->alloc(s.defaults, new_addr, size, alignment, zero, commit, arena);
}

bool Dalloc(ExtentHooks*, void* addr, size_t size, bool committed, unsigned arena) {
  if (InRange(addr)) return true;  // refused: jemalloc keeps it for reuse
  auto* d = g_state->defaults;
  return d->dalloc == nullptr || d->dalloc(d, addr, size, committed, arena);
}

void Destroy(ExtentHooks*, void* addr, size_t size, bool committed, unsigned arena) {
  if (InRange(addr)) {
    madvise(addr, size, MADV_DONTNEED);
    return;
  }
  auto* d = g_state->defaults;
  if (d->destroy != nullptr) d->destroy(d, addr, size, committed, arena);
}

// jemalloc's own `hook` for memory outside the range (refused when it has
// none).
bool DefaultRangeHook(RangeHook* ExtentHooks::*hook, void* addr, size_t size, size_t offset,
                      size_t length, unsigned arena) {
  ExtentHooks* d = g_state->defaults;
  RangeHook* f = d->*hook;
  return f == nullptr || f(d, addr, size, offset, length, arena);
}

bool Commit(ExtentHooks*, void* addr, size_t size, size_t offset, size_t length, unsigned arena) {
  if (InRange(addr)) return false;  // always committed
  return DefaultRangeHook(&ExtentHooks::commit, addr, size, offset, length, arena);
}

bool Decommit(ExtentHooks*, void* addr, size_t size, size_t offset, size_t length,
              unsigned arena) {
  if (InRange(addr)) return true;  // refused: stays committed
  return DefaultRangeHook(&ExtentHooks::decommit, addr, size, offset, length, arena);
}

bool PurgeLazy(ExtentHooks*, void* addr, size_t size, size_t offset, size_t length,
               unsigned arena) {
  if (InRange(addr)) return madvise(static_cast<char*>(addr) + offset, length, MADV_FREE) != 0;
  return DefaultRangeHook(&ExtentHooks::purge_lazy, addr, size, offset, length, arena);
}

bool PurgeForced(ExtentHooks*, void* addr, size_t size, size_t offset, size_t length,
                 unsigned arena) {
  if (InRange(addr)) return madvise(static_cast<char*>(addr) + offset, length, MADV_DONTNEED) != 0;
  return DefaultRangeHook(&ExtentHooks::purge_forced, addr, size, offset, length, arena);
}

bool Split(ExtentHooks*, void* addr, size_t size, size_t size_a, size_t size_b, bool committed,
           unsigned arena) {
  if (InRange(addr)) return false;
  auto* d = g_state->defaults;
  return d->split == nullptr || d->split(d, addr, size, size_a, size_b, committed, arena);
}

bool Merge(ExtentHooks*, void* addr_a, size_t size_a, void* addr_b, size_t size_b, bool committed,
           unsigned arena) {
  bool a = InRange(addr_a), b = InRange(addr_b);
  if (a && b) return false;
  if (a || b) return true;  // one from the range, one from jemalloc's own mappings
  auto* d = g_state->defaults;
  return d->merge == nullptr || d->merge(d, addr_a, size_a, addr_b, size_b, committed, arena);
}

ExtentHooks g_hooks = {Alloc, Dalloc, Destroy, Commit, Decommit, PurgeLazy, PurgeForced,
                       Split, Merge};

// Populates [from, to), then reads one byte of every page; never writes.
// The read is what saves the users' faults on this VM: after
// MADV_POPULATE_WRITE alone a thread's first write to each page still cost
// 1.9 ms per MiB; after the read, 0.01 (docs/benchmarks.md, eleventh
// session).
void Populate(uintptr_t from, uintptr_t to) {
  for (uintptr_t at = from; at < to; at += kPopulateCall) {
    madvise(reinterpret_cast<void*>(at), std::min(kPopulateCall, to - at), MADV_POPULATE_WRITE);
  }
  for (uintptr_t p = from; p < to; p += kPage) {
    (void)__atomic_load_n(reinterpret_cast<const char*>(p), __ATOMIC_RELAXED);
  }
  g_state->populated_bytes.fetch_add(to - from, std::memory_order_relaxed);
}

// Gives back the populated lead after idle time: carves it first (so no
// extent can be handed out inside it while its pages are dropped), drops
// them, then uncarves it unless an allocation carved past it meanwhile
// (then it stays a hole of address space). Returns false when an
// allocation moved the frontier before the carve.
bool ReleaseLead(uintptr_t frontier) {
  State& s = *g_state;
  uintptr_t populated = s.populated.load(std::memory_order_relaxed);
  if (populated <= frontier) return true;
  uintptr_t f = frontier;
  if (!s.frontier.compare_exchange_strong(f, populated, std::memory_order_acq_rel)) return false;
  uintptr_t from = RoundUp(frontier, kPage);
  madvise(reinterpret_cast<void*>(from), populated - from, MADV_DONTNEED);
  s.released_bytes.fetch_add(populated - from, std::memory_order_relaxed);
  // Zero pages again: fine to hand out as new.
  uintptr_t expected = populated;
  if (s.frontier.compare_exchange_strong(expected, frontier, std::memory_order_acq_rel)) {
    s.populated.store(from, std::memory_order_release);
  }
  return true;
}

void HelperLoop(uintptr_t start_frontier) {
  State& s = *g_state;
  uintptr_t window_frontier = start_frontier;
  auto window_start = Clock::now();
  auto last_growth = window_start;
  uintptr_t last_window_growth = 0;
  uintptr_t last_frontier = window_frontier;
  bool idle = true;  // no growth since the lead was given back (or ever)
  bool wait = true;
  for (;;) {
    if (wait) {
      std::unique_lock lock(s.mu);
      s.wake.wait_for(lock, kRateWindow);
    }
    wait = true;
    auto now = Clock::now();
    uintptr_t f = s.frontier.load(std::memory_order_acquire);
    if (now - window_start >= kRateWindow) {
      last_window_growth = f - window_frontier;
      window_frontier = f;
      window_start = now;
    }
    if (f != last_frontier) {
      last_frontier = f;
      last_growth = now;
      idle = false;
    } else if (!idle && now - last_growth >= kIdleRelease) {
      if (ReleaseLead(f)) {
        last_frontier = window_frontier = s.frontier.load(std::memory_order_acquire);
        last_window_growth = 0;
        idle = true;
      }
      continue;
    }
    // The lead: the growth of the last window (or of this one so far), so
    // about 100 ms ahead of the users.
    uintptr_t growth = std::max(last_window_growth, f - window_frontier);
    if (growth == 0) continue;
    uintptr_t lead = std::min(kMaxLead, RoundUp(growth, kStep));
    uintptr_t target = std::min(s.end, RoundUp(f, kPage) + lead);
    // Behind the frontier: the newest carved step is probably still being
    // filled; older carved memory has been touched by its users already.
    uintptr_t from = std::max(s.populated.load(std::memory_order_relaxed),
                              f > s.begin + kStep ? f - kStep : s.begin);
    from = from / kPage * kPage;
    if (from >= target) continue;
    // One step, then look at the frontier again.
    uintptr_t to = std::min(target, (from / kStep + 1) * kStep);
    Populate(from, to);
    s.populated.store(to, std::memory_order_release);
    wait = false;
  }
}

// Under vm.overcommit_memory=2 MAP_NORESERVE is ignored: the whole range
// would count against the commit limit (and again at every fork()).
bool StrictOvercommit() {
  std::ifstream f("/proc/sys/vm/overcommit_memory");
  int mode = 0;
  return f >> mode && mode == 2;
}

// Reserves the range: 4x the machine's memory, at most 64 GiB, less if
// the address space limit refuses that.
bool ReserveRange(State* s) {
  size_t memory =
      static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t largest = std::clamp(RoundUp(4 * memory, kStep), kSmallestRange, kLargestRange);
  for (size_t size = largest; size >= kSmallestRange; size /= 2) {
    void* p = mmap(nullptr, size + kStep, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    s->mapping = p;
    s->mapping_bytes = size + kStep;
    s->begin = RoundUp(reinterpret_cast<uintptr_t>(p), kStep);
    s->end = s->begin + size;
    return true;
  }
  return false;
}

void MarkForkedChild() { g_state->in_child.store(true, std::memory_order_relaxed); }

}  // namespace

std::string InstallHeapPrefault() {
  if (g_state != nullptr) return "already installed";
  if (mallctl == nullptr) return "jemalloc is not linked";
  if (StrictOvercommit()) return "vm.overcommit_memory is 2 (strict)";
  unsigned narenas = 0;
  size_t len = sizeof(narenas);
  if (mallctl("opt.narenas", &narenas, &len, nullptr, 0) != 0 || narenas == 0) {
    return "cannot read jemalloc's opt.narenas";
  }
  ExtentHooks* defaults = nullptr;
  len = sizeof(defaults);
  if (mallctl("arena.0.extent_hooks", &defaults, &len, nullptr, 0) != 0 || defaults == nullptr ||
      defaults->alloc == nullptr) {
    return "cannot read jemalloc's extent hooks";
  }
  auto* s = new State;
  s->defaults = defaults;
  if (!ReserveRange(s)) {
    delete s;
    return "cannot reserve address space";
  }
  void* first = reinterpret_cast<void*>(s->begin);
  if (madvise(first, kPage, MADV_POPULATE_WRITE) != 0) {
    munmap(s->mapping, s->mapping_bytes);
    delete s;
    return "the kernel lacks MADV_POPULATE_WRITE (Linux 5.14)";
  }
  // Under retain (jemalloc's default on Linux) jemalloc never unmaps: no
  // dalloc hook spares it the deregistering of every extent it decays.
  bool retain = false;
  len = sizeof(retain);
  if (mallctl("opt.retain", &retain, &len, nullptr, 0) == 0 && retain) g_hooks.dalloc = nullptr;
  s->frontier.store(s->begin);
  s->populated.store(s->begin + kPage);
  g_state = s;
  pthread_atfork(nullptr, nullptr, MarkForkedChild);
  // Every automatic arena, created now if it was not yet (each takes its
  // first metadata block from the range).
  ExtentHooks* hooks = &g_hooks;
  std::string failed;
  for (unsigned i = 0; i < narenas; ++i) {
    std::string prefix = "arena." + std::to_string(i);
    if (mallctl((prefix + ".extent_hooks").c_str(), nullptr, nullptr, &hooks, sizeof(hooks)) != 0) {
      failed = "only partly: cannot set the extent hooks of jemalloc's " + prefix;
      break;
    }
    size_t limit = kGrowLimit;
    mallctl((prefix + ".retain_grow_limit").c_str(), nullptr, nullptr, &limit, sizeof(limit));
  }
  // As jemalloc marks its own mappings with "thp:always": the process's
  // --huge-pages policy (prctl) then decides, as for the rest of the heap.
  // Not the arenas' first metadata blocks carved above: a few KiB used of
  // each, which would each fill a 2 MiB page (16 MiB for 8 arenas).
  uintptr_t heap_start = RoundUp(s->frontier.load(), kStep);
  if (AllocatorAsksForHugePages() && heap_start < s->end) {
    // NOHUGEPAGE matters under the system's "always" mode.
    madvise(first, heap_start - s->begin, MADV_NOHUGEPAGE);
    madvise(reinterpret_cast<void*>(heap_start), s->end - heap_start, MADV_HUGEPAGE);
  }
  // The arenas' metadata carved above is not growth to run ahead of.
  std::thread helper(HelperLoop, s->frontier.load());
  pthread_setname_np(helper.native_handle(), "heap-prefault");
  helper.detach();
  return failed;
}

bool InHeapPrefaultRange(const void* p) { return g_state != nullptr && InRange(p); }

HeapPrefaultStats GetHeapPrefaultStats() {
  HeapPrefaultStats st;
  State* s = g_state;
  if (s == nullptr) return st;
  st.active = true;
  st.carved_bytes = s->carved_bytes.load(std::memory_order_relaxed);
  st.populated_bytes = s->populated_bytes.load(std::memory_order_relaxed);
  st.released_bytes = s->released_bytes.load(std::memory_order_relaxed);
  uintptr_t f = s->frontier.load(std::memory_order_relaxed);
  uintptr_t p = s->populated.load(std::memory_order_relaxed);
  st.lead_bytes = p > f ? p - f : 0;
  return st;
}

}  // namespace tandem
