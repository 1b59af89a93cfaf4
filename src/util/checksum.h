// Checksums for log records, snapshots and transferred chunks: XXH3-64
// truncated where a format stores 32 bits (see docs/formats.md).
#pragma once

#include <cstdint>
#include <string_view>

namespace tandem {

uint64_t Checksum64(std::string_view data, uint64_t seed = 0);
inline uint32_t Checksum32(std::string_view data, uint64_t seed = 0) {
  return static_cast<uint32_t>(Checksum64(data, seed));
}

// Incremental 64-bit checksum over data arriving in pieces; equal to
// Checksum64 over the concatenation.
class StreamingChecksum {
 public:
  explicit StreamingChecksum(uint64_t seed = 0);
  ~StreamingChecksum();
  StreamingChecksum(const StreamingChecksum&) = delete;
  StreamingChecksum& operator=(const StreamingChecksum&) = delete;
  void Update(std::string_view data);
  uint64_t Digest() const;

 private:
  void* state_;
};

}  // namespace tandem
