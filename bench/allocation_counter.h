// Counts heap allocations made through operator new in a benchmark binary
// (allocation_counter.cc replaces the global operator new/delete; link it
// into the benchmark, never into the server).
#pragma once

#include <cstdint>

namespace tandem::bench {

// Allocations made so far by this process.
uint64_t AllocationCount();

}  // namespace tandem::bench
