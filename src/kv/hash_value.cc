#include "kv/hash_value.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "kv/key_hash.h"

namespace tandem::kv {

// One field: the value as a std::string (GetMutable hands it out), the
// field's hash and length, then the field bytes right after the struct.
struct HashValue::Node {
  std::string value;
  uint32_t hash;
  uint32_t field_len;
  const char* field() const { return reinterpret_cast<const char*>(this + 1); }
};

std::string_view HashValue::NodeTraits::Key(const Node* n) { return {n->field(), n->field_len}; }
uint32_t HashValue::NodeTraits::Hash(const Node* n) { return n->hash; }

HashValue::Node* HashValue::NewNode(std::string_view field, uint32_t hash, std::string_view value) {
  void* mem = ::operator new(sizeof(Node) + field.size());
  Node* n = new (mem) Node{std::string(value), hash, static_cast<uint32_t>(field.size())};
  if (!field.empty()) std::memcpy(reinterpret_cast<char*>(n + 1), field.data(), field.size());
  return n;
}

void HashValue::FreeNode(Node* n) {
  n->~Node();
  ::operator delete(n);
}

HashValue::~HashValue() {
  table_.ForEach([](Node* n) { FreeNode(n); });
}

std::unique_ptr<HashValue> HashValue::Clone() const {
  auto copy = std::make_unique<HashValue>();
  table_.ForEach(
      [&](const Node* n) { copy->table_.Insert(NewNode(NodeTraits::Key(n), n->hash, n->value)); });
  copy->listpack_ = listpack_;
  copy->max_len_ = max_len_;
  return copy;
}

const std::string* HashValue::Get(std::string_view field) const {
  Node* n = table_.Find(field, KeyHash(field));
  return n ? &n->value : nullptr;
}

std::string* HashValue::GetMutable(std::string_view field) {
  Node* n = table_.Find(field, KeyHash(field));
  return n ? &n->value : nullptr;
}

bool HashValue::Set(std::string_view field, std::string_view value) {
  if (listpack_) {
    max_len_ = std::max({max_len_, field.size(), value.size()});
  }
  uint32_t hash = KeyHash(field);
  bool created = false;
  if (Node* n = table_.Find(field, hash)) {
    n->value.assign(value);
  } else {
    table_.Insert(NewNode(field, hash, value));
    created = true;
  }
  if (listpack_ && (table_.size() > kListpackMaxEntries || max_len_ > kListpackMaxValue)) {
    listpack_ = false;
  }
  return created;
}

bool HashValue::Erase(std::string_view field) {
  Node* n = table_.Remove(field, KeyHash(field));
  if (n == nullptr) return false;
  FreeNode(n);
  return true;
}

void HashValue::ForEach(const std::function<void(std::string_view, std::string_view)>& fn) const {
  table_.ForEach([&](const Node* n) { fn(NodeTraits::Key(n), n->value); });
}

uint64_t HashValue::Scan(uint64_t cursor, size_t count,
                         const std::function<void(std::string_view, std::string_view)>& fn) const {
  return table_.Scan(cursor, count, [&](const Node* n) { fn(NodeTraits::Key(n), n->value); });
}

std::pair<std::string_view, std::string_view> HashValue::Random(uint64_t random) const {
  const Node* n = table_.RandomEntry(random);
  if (n == nullptr) return {};
  return {NodeTraits::Key(n), n->value};
}

}  // namespace tandem::kv
