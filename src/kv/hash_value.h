// HashValue: the contents of a hash key (field -> value).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tandem::kv {

class HashValue {
 public:
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  // nullptr when the field is absent.
  const std::string* Get(std::string_view field) const;
  std::string* GetMutable(std::string_view field);
  // Returns true when the field was created, false when it was overwritten.
  bool Set(std::string_view field, std::string_view value);
  bool Erase(std::string_view field);
  // Calls fn for every field; order is unspecified but stable while the hash
  // is not modified.
  void ForEach(const std::function<void(std::string_view, std::string_view)>& fn) const;
  // HSCAN: calls fn for the elements of about `count` buckets starting at
  // cursor and returns the next cursor (0 when done), with SCAN's guarantee.
  uint64_t Scan(uint64_t cursor, size_t count,
                const std::function<void(std::string_view, std::string_view)>& fn) const;
  // The i-th element in iteration order, 0 <= i < size() (HRANDFIELD).
  std::pair<std::string_view, std::string_view> At(size_t i) const;
  // Longest field and value, for OBJECT ENCODING thresholds.
  size_t max_entry_len() const;

 private:
  struct Hasher {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, std::string, Hasher, std::equal_to<>> map_;
};

}  // namespace tandem::kv
