#include "kv/key_hash.h"

#include <atomic>
#include <random>

namespace tandem::kv {

uint64_t KeyHashSeed() {
  static const uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

uint64_t NextKeyHashSeed() {
  // splitmix64 of the process seed and a counter: distinct, well mixed.
  static std::atomic<uint64_t> counter{0};
  uint64_t z = KeyHashSeed() + (counter.fetch_add(1) + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace tandem::kv
