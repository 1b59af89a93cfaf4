// HashValue: the contents of a hash key (field -> value).
//
// Stored in a ProbeTable (open addressing, see docs/keyspace.md) of compact
// nodes, so HSCAN keeps SCAN's guarantee across resizes. The hash also
// tracks the encoding Redis would report: "listpack" while it has at most
// 128 fields and every field and value is at most 64 bytes, "hashtable"
// once either limit is crossed (and never back, as in Redis 7.0).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "kv/probe_table.h"

namespace tandem::kv {

class HashValue {
 public:
  // Redis 7.0's defaults for hash-max-listpack-entries / -value.
  static constexpr size_t kListpackMaxEntries = 128;
  static constexpr size_t kListpackMaxValue = 64;

  HashValue() = default;
  ~HashValue();
  HashValue(const HashValue&) = delete;
  HashValue& operator=(const HashValue&) = delete;
  // Deep copy (COPY); keeps the encoding.
  std::unique_ptr<HashValue> Clone() const;

  size_t size() const { return table_.size(); }
  bool empty() const { return table_.size() == 0; }
  // nullptr when the field is absent.
  const std::string* Get(std::string_view field) const;
  std::string* GetMutable(std::string_view field);
  // Returns true when the field was created, false when it was overwritten.
  bool Set(std::string_view field, std::string_view value);
  bool Erase(std::string_view field);
  // Calls fn for every field; order is unspecified but stable while the hash
  // is not modified. fn must not modify the hash.
  void ForEach(const std::function<void(std::string_view, std::string_view)>& fn) const;
  // HSCAN: calls fn for the elements of about `count` buckets starting at
  // cursor and returns the next cursor (0 when done), with SCAN's guarantee.
  uint64_t Scan(uint64_t cursor, size_t count,
                const std::function<void(std::string_view, std::string_view)>& fn) const;
  // An element chosen with `random` (any 64-bit value); the hash must not be
  // empty. O(1) on average; not perfectly uniform.
  std::pair<std::string_view, std::string_view> Random(uint64_t random) const;
  // Longest field or value ever stored while listpack-encoded (0 after the
  // switch to hashtable, where it no longer matters).
  size_t max_entry_len() const { return listpack_ ? max_len_ : 0; }
  // What OBJECT ENCODING reports: true = "listpack", false = "hashtable".
  bool is_listpack() const { return listpack_; }

 private:
  struct Node;
  struct NodeTraits {
    static std::string_view Key(const Node* n);
    static uint32_t Hash(const Node* n);
  };
  static Node* NewNode(std::string_view field, uint32_t hash, std::string_view value);
  static void FreeNode(Node* n);

  ProbeTable<Node, NodeTraits> table_;
  bool listpack_ = true;
  size_t max_len_ = 0;
};

}  // namespace tandem::kv
