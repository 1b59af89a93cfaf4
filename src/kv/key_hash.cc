#include "kv/key_hash.h"

#include <random>

namespace tandem::kv {

uint64_t KeyHashSeed() {
  static const uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

}  // namespace tandem::kv
