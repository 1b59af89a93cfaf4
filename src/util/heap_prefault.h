// Heap prefaulting: new heap memory is faulted in by a helper thread ahead
// of the threads that will use it.
//
// Why: on the development VM the first touch of a page costs about 16 us
// (4 ms per MiB; 2.7 with huge pages) on the thread that touches it, most of
// it in the hypervisor, while a page another thread of the process has
// already populated and read costs nothing more (measured in
// docs/benchmarks.md, eleventh session). A new follower building a 1 GiB
// keyspace spent over half its loop thread's time there. With this on, a
// helper thread pays that cost on the other core while the loop works.
//
// How: InstallHeapPrefault() reserves one large range of address space
// (4x the machine's memory, at most 64 GiB; MAP_NORESERVE: nothing is
// committed until touched, so it is refused under vm.overcommit_memory=2,
// where it would all count against the commit limit) and installs
// jemalloc extent hooks on every automatic arena, so every new extent the
// arenas ask for is carved from that range in address order. Each arena's
// retained growth is capped (2 MiB) so the carved frontier follows what is
// really used. The helper keeps [frontier, frontier + lead) populated
// (MADV_POPULATE_WRITE, then a read of every page: on this VM only the read
// spares the users their first-write fault); the lead follows the recent
// growth rate (the last 100 ms of growth, at most 32 MiB) and is
// given back after 10 s without growth (to be handed out again later). Extents outside the range (before the install, after it
// is used up, or jemalloc's huge arena for single allocations >= 8 MiB) go
// to jemalloc's own hooks unchanged. The range asks for transparent huge
// pages when jemalloc does for its own mappings ("thp:always"), so
// --huge-pages decides for it as for the rest of the heap.
//
// Safety: the helper never writes to a page: populating a page that is
// already in use changes nothing, and giving back the unused lead first
// carves it, so no extent can be handed out inside it while its pages are
// dropped. A forked child (--snapshot-method fork) has no helper; its
// allocations carve without waking one.
#pragma once

#include <cstddef>
#include <string>

namespace tandem {

struct HeapPrefaultStats {
  bool active = false;
  size_t carved_bytes = 0;     // handed to jemalloc from the range
  size_t populated_bytes = 0;  // passed through the helper (lead included)
  size_t released_bytes = 0;   // unused lead given back after idle time
  size_t lead_bytes = 0;       // populated ahead of the frontier now
};

// Installs the hooks and starts the helper. Once per process, before the
// heap grows much (memory jemalloc already holds is unaffected). Returns an
// empty string on success, else why it is not active (jemalloc not linked,
// strict overcommit, the kernel lacks MADV_POPULATE_WRITE, a mallctl
// failed): the process then runs as before. The one partial case, an arena
// refusing the hooks after others took them, says "only partly: ..." and
// stays active for those.
std::string InstallHeapPrefault();

HeapPrefaultStats GetHeapPrefaultStats();

// Whether p lies in the reserved range (false when not installed).
bool InHeapPrefaultRange(const void* p);

}  // namespace tandem
