// The self-contained encoding of one key in a keyspace snapshot
// (docs/formats.md, "Keyspace snapshot entry"), and the per-key digest
// built on the same canonical bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kv/object.h"
#include "util/status.h"

namespace tandem::kv {

// Appends the entry for (key, value, expire_at) to *out.
void EncodeSnapshotEntry(std::string_view key, const Object& value, int64_t expire_at,
                         std::string* out);

struct DecodedEntry {
  std::string key;
  int64_t expire_at;
  Object value = Object::String("");
};

// Parses one whole entry; Corruption on truncated, trailing or invalid bytes
// (unknown version or type, an empty hash, a duplicate hash field).
Status DecodeSnapshotEntry(std::string_view bytes, DecodedEntry* out);

// A 64-bit hash of one key's state (key, type, expiry, value) that does not
// depend on the order of a hash's fields. Seeds give independent hashes.
uint64_t KeyDigest(std::string_view key, const Object& value, int64_t expire_at, uint64_t seed);

}  // namespace tandem::kv
