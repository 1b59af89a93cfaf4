#include "kv/keyspace.h"

#include <cstring>
#include <new>
#include <vector>

#include "kv/probe_table.h"

namespace tandem::kv {
namespace {

constexpr uint32_t kNotExpiring = UINT32_MAX;
constexpr uint32_t kAccessClockBits = 24;
constexpr uint32_t kAccessClockMask = (1u << kAccessClockBits) - 1;

// One key: 64 bytes of header, then the key bytes in the same allocation.
struct Node {
  Object value;
  int64_t expire_at;
  uint32_t hash;
  uint32_t key_len;
  uint32_t expire_index;  // position in Impl::expiring, or kNotExpiring
  uint32_t access;        // last access seconds (24 bits) << 8 | count (8 bits)

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_len}; }
};

struct NodeTraits {
  static std::string_view Key(const Node* n) { return n->key(); }
  static uint32_t Hash(const Node* n) { return n->hash; }
};

Node* NewNode(std::string_view key, uint32_t hash, Object value) {
  void* mem = ::operator new(sizeof(Node) + key.size());
  Node* n = new (mem)
      Node{std::move(value), kNoExpire, hash, static_cast<uint32_t>(key.size()), kNotExpiring, 0};
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(n + 1), key.data(), key.size());
  return n;
}

void FreeNode(Node* n) {
  n->~Node();
  ::operator delete(n);
}

size_t ValueMemory(const Object& o) {
  if (o.is_string()) return o.str().capacity() > 15 ? o.str().capacity() + 1 : 0;
  size_t total = sizeof(HashValue);
  o.hash().ForEach(
      [&](std::string_view f, std::string_view v) { total += 48 + f.size() + v.size(); });
  return total;
}

}  // namespace

struct Keyspace::Impl {
  ProbeTable<Node, NodeTraits> table;
  std::vector<Node*> expiring;  // every node with an expiry, dense

  Node* FindNode(std::string_view key) const { return table.Find(key, HashKey(key)); }

  void SetNodeExpire(Node* n, int64_t at_ms) {
    if (at_ms == kNoExpire) {
      ClearNodeExpire(n);
      return;
    }
    if (n->expire_index == kNotExpiring) {
      n->expire_index = static_cast<uint32_t>(expiring.size());
      expiring.push_back(n);
    }
    n->expire_at = at_ms;
  }

  void ClearNodeExpire(Node* n) {
    if (n->expire_index != kNotExpiring) {
      Node* last = expiring.back();
      expiring[n->expire_index] = last;
      last->expire_index = n->expire_index;
      expiring.pop_back();
      n->expire_index = kNotExpiring;
    }
    n->expire_at = kNoExpire;
  }

  // Removes the node from the table and the expiring set; caller frees.
  Node* Unlink(std::string_view key) {
    Node* n = table.Remove(key, HashKey(key));
    if (n != nullptr) ClearNodeExpire(n);
    return n;
  }
};

Keyspace::Keyspace() : impl_(new Impl) {}

Keyspace::~Keyspace() {
  Clear();
  delete impl_;
}

size_t Keyspace::size() const { return impl_->table.size(); }
size_t Keyspace::expires_count() const { return impl_->expiring.size(); }

Object* Keyspace::Find(std::string_view key) {
  Node* n = impl_->FindNode(key);
  return n ? &n->value : nullptr;
}

const Object* Keyspace::Find(std::string_view key) const {
  const Node* n = impl_->FindNode(key);
  return n ? &n->value : nullptr;
}

namespace {
void TouchNode(Node* n, int64_t now_ms) {
  uint32_t count = n->access & 0xff;
  if (count < 0xff) ++count;
  n->access = (static_cast<uint32_t>(now_ms / 1000) & kAccessClockMask) << 8 | count;
}
}  // namespace

Object* Keyspace::Access(std::string_view key, int64_t* expire_at, int64_t touch_ms) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) {
    *expire_at = kNoExpire;
    return nullptr;
  }
  *expire_at = n->expire_at;
  if (touch_ms >= 0) TouchNode(n, touch_ms);
  return &n->value;
}

Object& Keyspace::Set(std::string_view key, Object value, bool keep_ttl) {
  uint32_t hash = HashKey(key);
  if (Node* n = impl_->table.Find(key, hash)) {
    n->value = std::move(value);
    if (!keep_ttl) impl_->ClearNodeExpire(n);
    TouchNode(n, access_clock_ms_);
    return n->value;
  }
  Node* n = NewNode(key, hash, std::move(value));
  TouchNode(n, access_clock_ms_);
  impl_->table.Insert(n);
  return n->value;
}

bool Keyspace::Erase(std::string_view key) {
  Node* n = impl_->Unlink(key);
  if (n == nullptr) return false;
  FreeNode(n);
  return true;
}

std::optional<Object> Keyspace::Extract(std::string_view key, int64_t* expire_at) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) return std::nullopt;
  if (expire_at != nullptr) *expire_at = n->expire_at;
  impl_->Unlink(key);
  std::optional<Object> value(std::move(n->value));
  FreeNode(n);
  return value;
}

void Keyspace::Clear() {
  impl_->table.ForEach([](Node* n) { FreeNode(n); });
  impl_->table.Reset();
  impl_->expiring.clear();
  impl_->expiring.shrink_to_fit();
}

int64_t Keyspace::GetExpire(std::string_view key) const {
  const Node* n = impl_->FindNode(key);
  return n ? n->expire_at : kNoExpire;
}

bool Keyspace::SetExpire(std::string_view key, int64_t at_ms) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) return false;
  impl_->SetNodeExpire(n, at_ms);
  return true;
}

bool Keyspace::Persist(std::string_view key) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr || n->expire_at == kNoExpire) return false;
  impl_->ClearNodeExpire(n);
  return true;
}

uint64_t Keyspace::Scan(uint64_t cursor, size_t count,
                        const std::function<void(std::string_view, const Object&)>& fn) const {
  return impl_->table.Scan(cursor, count, [&](const Node* n) { fn(n->key(), n->value); });
}

void Keyspace::ForEach(
    const std::function<void(std::string_view, const Object&, int64_t)>& fn) const {
  impl_->table.ForEach([&](const Node* n) { fn(n->key(), n->value, n->expire_at); });
}

std::string Keyspace::RandomKey(uint64_t random) const {
  const Node* n = impl_->table.RandomEntry(random);
  return n ? std::string(n->key()) : std::string();
}

void Keyspace::SampleExpiring(uint64_t random, size_t n,
                              const std::function<void(std::string_view, int64_t)>& fn) const {
  const std::vector<Node*>& all = impl_->expiring;
  if (all.empty()) return;
  if (n > all.size()) n = all.size();
  size_t start = random % all.size();
  for (size_t i = 0; i < n; ++i) {
    const Node* node = all[(start + i) % all.size()];
    fn(node->key(), node->expire_at);
  }
}

void Keyspace::Touch(std::string_view key, int64_t now_ms) {
  int64_t unused;
  Access(key, &unused, now_ms);
}

int64_t Keyspace::IdleMs(std::string_view key, int64_t now_ms) const {
  const Node* n = impl_->FindNode(key);
  if (n == nullptr || n->access == 0) return 0;  // absent or never accessed
  uint32_t now_clock = static_cast<uint32_t>(now_ms / 1000) & kAccessClockMask;
  uint32_t then = n->access >> 8;
  uint32_t seconds = (now_clock - then) & kAccessClockMask;
  return static_cast<int64_t>(seconds) * 1000;
}

uint64_t Keyspace::AccessCount(std::string_view key) const {
  const Node* n = impl_->FindNode(key);
  return n ? (n->access & 0xff) : 0;
}

size_t Keyspace::MemoryUsage() const {
  size_t total = impl_->table.memory_usage() + impl_->expiring.capacity() * sizeof(Node*);
  impl_->table.ForEach(
      [&](const Node* n) { total += sizeof(Node) + n->key_len + ValueMemory(n->value); });
  return total;
}

}  // namespace tandem::kv
