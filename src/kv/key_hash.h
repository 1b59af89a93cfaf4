// KeyHash: the 32-bit hash the keyspace and hash values index their
// ProbeTables with (the hash Traits::Hash returns). XXH3-64 of the key,
// truncated, seeded with a value drawn at random once per process.
//
// Why per process: a table iterates its keys in slot order, which is the
// order of their home buckets (hash & (capacity - 1)), and snapshots are
// written in that order. With one fixed hash everywhere, loading a snapshot
// into a fresh (smaller, growing) table inserts keys sorted by home bucket,
// more than one per bucket: each lands at the end of one ever-growing run
// of occupied slots, and loading becomes quadratic (652k keys: minutes).
// With independent seeds the loading table sees the keys in random order.
//
// Consequently nothing may persist these hashes or rely on two processes
// agreeing on them (or on table order: SCAN cursors, RANDOMKEY) — nothing
// replicated does (command.h's determinism contract).
#pragma once

#include <cstdint>
#include <string_view>

#include "util/checksum.h"

namespace tandem::kv {

// The seed, drawn from std::random_device on first use.
uint64_t KeyHashSeed();

inline uint32_t KeyHash(std::string_view key) {
  static const uint64_t seed = KeyHashSeed();
  return static_cast<uint32_t>(Checksum64(key, seed));
}

// A table that is emptied and reloaded within one process (the keyspace,
// when the state is rebuilt from this node's own snapshot, which a child
// of this process wrote in this seed's order) must not reuse the seed it
// had: it hashes with its own, from NextKeyHashSeed(), drawn anew when it
// is emptied.
uint64_t NextKeyHashSeed();

inline uint32_t KeyHash(std::string_view key, uint64_t seed) {
  return static_cast<uint32_t>(Checksum64(key, seed));
}

}  // namespace tandem::kv
