// NameIndex: finds an entry of a static table by its name, ignoring ASCII
// case, without allocating: the command tables are looked up once or twice
// per request (a lower-cased std::string per lookup plus std::tolower per
// character was 1.3% of a leader's samples under SET -P 16).
// AsciiLower: the lower-case copy, for callers that keep it.
#pragma once

#include <cassert>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tandem {

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

template <typename T>
class NameIndex {
 public:
  // Names longer than this are never found.
  static constexpr size_t kMaxName = 64;

  // `lower_name` must be lower case and outlive the index (a table's
  // string literal).
  void Add(std::string_view lower_name, const T* entry) {
    assert(lower_name.size() <= kMaxName && AsciiLower(lower_name) == lower_name);
    by_name_.emplace(lower_name, entry);
  }

  // The entry whose name equals `name` in any ASCII case; nullptr if none.
  const T* Find(std::string_view name) const {
    if (name.size() > kMaxName) return nullptr;
    char lower[kMaxName];
    for (size_t i = 0; i < name.size(); ++i) lower[i] = AsciiLower(name[i]);
    auto it = by_name_.find(std::string_view(lower, name.size()));
    return it == by_name_.end() ? nullptr : it->second;
  }

 private:
  std::unordered_map<std::string_view, const T*> by_name_;
};

}  // namespace tandem
