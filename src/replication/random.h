// The core's only source of randomness (election timeouts), injected so a
// simulation seed reproduces a run exactly.
#pragma once

#include <cstdint>

namespace tandem::replication {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A uniformly distributed value in [0, bound); bound > 0.
  virtual uint64_t Uniform(uint64_t bound) = 0;
};

// SplitMix64: small, fast, good enough for timeouts and simulation.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t bound) override { return Next() % bound; }
  // True with probability numerator/denominator.
  bool Chance(uint64_t numerator, uint64_t denominator) { return Uniform(denominator) < numerator; }

 private:
  uint64_t state_;
};

}  // namespace tandem::replication
