#include "kv/snapshot_entry.h"

#include "kv/keyspace.h"

#include "util/checksum.h"
#include "util/coding.h"

namespace tandem::kv {
namespace {
constexpr uint8_t kEntryVersion = 1;
}

void EncodeSnapshotEntry(std::string_view key, const Object& value, int64_t expire_at,
                         std::string* out) {
  out->push_back(static_cast<char>(kEntryVersion));
  PutLengthPrefixed(out, key);
  out->push_back(static_cast<char>(value.type()));
  PutFixed64(out, static_cast<uint64_t>(expire_at));
  if (value.is_string()) {
    PutLengthPrefixed(out, value.str());
    return;
  }
  const HashValue& h = value.hash();
  PutVarint64(out, h.size());
  h.ForEach([&](std::string_view f, std::string_view v) {
    PutLengthPrefixed(out, f);
    PutLengthPrefixed(out, v);
  });
}

Status DecodeSnapshotEntry(std::string_view in, DecodedEntry* out) {
  if (in.empty() || static_cast<uint8_t>(in[0]) != kEntryVersion) {
    return Status::Corruption("snapshot entry: bad version");
  }
  in.remove_prefix(1);
  std::string_view key;
  if (!GetLengthPrefixed(&in, &key) || in.size() < 9) {
    return Status::Corruption("snapshot entry: truncated key");
  }
  uint8_t type = static_cast<uint8_t>(in[0]);
  int64_t expire_at = static_cast<int64_t>(DecodeFixed64(in.data() + 1));
  in.remove_prefix(9);
  if (expire_at < kNoExpire) return Status::Corruption("snapshot entry: bad expiry");
  if (type == static_cast<uint8_t>(ObjectType::kString)) {
    std::string_view s;
    if (!GetLengthPrefixed(&in, &s)) return Status::Corruption("snapshot entry: truncated string");
    out->value = Object::String(std::string(s));
  } else if (type == static_cast<uint8_t>(ObjectType::kHash)) {
    uint64_t count;
    if (!GetVarint64(&in, &count) || count == 0 || count > in.size() / 2) {
      return Status::Corruption("snapshot entry: bad hash size");
    }
    Object h = Object::NewHash();
    for (uint64_t i = 0; i < count; ++i) {
      std::string_view f, v;
      if (!GetLengthPrefixed(&in, &f) || !GetLengthPrefixed(&in, &v)) {
        return Status::Corruption("snapshot entry: truncated hash field");
      }
      if (!h.hash().Set(f, v)) return Status::Corruption("snapshot entry: duplicate hash field");
    }
    out->value = std::move(h);
  } else {
    return Status::Corruption("snapshot entry: unknown type " + std::to_string(type));
  }
  if (!in.empty()) return Status::Corruption("snapshot entry: trailing bytes");
  out->key.assign(key);
  out->expire_at = expire_at;
  return Status::Ok();
}

uint64_t KeyDigest(std::string_view key, const Object& value, int64_t expire_at, uint64_t seed) {
  uint64_t value_hash = 0;
  if (value.is_string()) {
    value_hash = Checksum64(value.str(), seed);
  } else {
    std::string pair;
    value.hash().ForEach([&](std::string_view f, std::string_view v) {
      pair.clear();
      PutLengthPrefixed(&pair, f);
      PutLengthPrefixed(&pair, v);
      value_hash += Checksum64(pair, seed);  // a sum: field order does not matter
    });
  }
  std::string head;
  PutLengthPrefixed(&head, key);
  head.push_back(static_cast<char>(value.type()));
  PutFixed64(&head, static_cast<uint64_t>(expire_at));
  PutFixed64(&head, value_hash);
  return Checksum64(head, seed);
}

}  // namespace tandem::kv
