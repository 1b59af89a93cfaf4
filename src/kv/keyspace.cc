#include "kv/keyspace.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "kv/key_hash.h"
#include "kv/probe_table.h"

namespace tandem::kv {
namespace {

constexpr uint32_t kAccessClockBits = 24;
constexpr uint32_t kAccessClockMask = (1u << kAccessClockBits) - 1;
constexpr uint8_t kHasExpire = 1;
// The capture this node was last handed out in, or that it was created
// during, has this parity (see Keyspace::Impl::Pending).
constexpr uint8_t kCaptureParity = 2;
// key_len16 value meaning "a uint32 length precedes the key bytes".
constexpr uint16_t kLongKey = UINT16_MAX;

// One key, in one allocation: the value (Node derives from Object and puts
// its own fields in Object's 7 bytes of tail padding), then the key bytes
// right after the last field. The header is 44 bytes, so a node with a key
// of up to 12 bytes fits glibc's 64-byte chunk. Expiry times live in
// Keyspace::Impl::expires, not here (most keys have none).
struct Node : Object {
  explicit Node(Object v) : Object(std::move(v)) {}

  uint8_t flags = 0;       // kHasExpire, kCaptureParity
  uint16_t key_len16 = 0;  // key length, or kLongKey
  uint32_t access = 0;     // last access seconds (24 bits) << 8 | count (8 bits)
  uint32_t hash = 0;

  Object& value() { return *this; }
  const Object& value() const { return *this; }
  const char* tail() const { return reinterpret_cast<const char*>(&hash + 1); }
  char* tail() { return reinterpret_cast<char*>(&hash + 1); }
  std::string_view key() const {
    if (key_len16 != kLongKey) return {tail(), key_len16};
    uint32_t len;
    std::memcpy(&len, tail(), sizeof(len));
    return {tail() + sizeof(len), len};
  }
  size_t alloc_size() const {
    size_t len = key_len16 != kLongKey ? key_len16 : key().size() + sizeof(uint32_t);
    return std::max(sizeof(Node), static_cast<size_t>(tail() - reinterpret_cast<const char*>(this)) + len);
  }
  bool has_expire() const { return flags & kHasExpire; }
};

// Where the key bytes start (the data size of Node, which excludes its own
// tail padding).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
constexpr size_t kKeyOffset = offsetof(Node, hash) + sizeof(uint32_t);
#pragma GCC diagnostic pop
static_assert(sizeof(Object) == 40, "Object: 32-byte union + tag");
static_assert(kKeyOffset == 44, "Node's fields must sit in Object's tail padding");

struct NodeTraits {
  static std::string_view Key(const Node* n) { return n->key(); }
  static uint32_t Hash(const Node* n) { return n->hash; }
};

Node* NewNode(std::string_view key, uint32_t hash, Object value) {
  bool long_key = key.size() >= kLongKey;
  size_t bytes = kKeyOffset + key.size() + (long_key ? sizeof(uint32_t) : 0);
  void* mem = ::operator new(std::max(sizeof(Node), bytes));
  Node* n = new (mem) Node(std::move(value));
  n->hash = hash;
  char* dst = n->tail();
  if (long_key) {
    n->key_len16 = kLongKey;
    uint32_t len = static_cast<uint32_t>(key.size());
    std::memcpy(dst, &len, sizeof(len));
    dst += sizeof(len);
  } else {
    n->key_len16 = static_cast<uint16_t>(key.size());
  }
  if (!key.empty()) std::memcpy(dst, key.data(), key.size());
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

// The expiry times of the nodes that have one: a dense array of
// {node, expire_at} (O(1) random sampling for the active expiry cycle) and
// an open-addressing index over it (uint32 positions + 1, 0 = empty; linear
// probing on the node's key hash, backward-shift deletion). About 16 + 4/load
// bytes per key with an expiry, nothing per key without one.
class ExpireTable {
 public:
  struct Entry {
    Node* node;
    int64_t at;
  };

  size_t size() const { return dense_.size(); }
  const std::vector<Entry>& entries() const { return dense_; }

  int64_t Get(const Node* n) const {
    size_t slot = FindSlot(n);
    return slot == kNone ? kNoExpire : dense_[index_[slot] - 1].at;
  }

  // Adds or updates n's expiry.
  void Set(Node* n, int64_t at) {
    if (n->has_expire()) {
      size_t slot = FindSlot(n);
      if (slot != kNone) {
        dense_[index_[slot] - 1].at = at;
        return;
      }
    }
    if ((dense_.size() + 1) * 4 > capacity_ * 3) Rehash(capacity_ == 0 ? 8 : capacity_ * 2);
    dense_.push_back({n, at});
    Place(n->hash, static_cast<uint32_t>(dense_.size()));
    n->flags |= kHasExpire;
  }

  // Removes n's expiry; false when it had none.
  bool Remove(Node* n) {
    if (!n->has_expire()) return false;
    n->flags &= static_cast<uint8_t>(~kHasExpire);
    size_t slot = FindSlot(n);
    if (slot == kNone) return false;
    uint32_t pos = index_[slot] - 1;
    EraseSlot(slot);
    // Move the last entry into the freed position.
    uint32_t last = static_cast<uint32_t>(dense_.size() - 1);
    if (pos != last) {
      size_t last_slot = FindSlot(dense_[last].node);
      dense_[pos] = dense_[last];
      index_[last_slot] = pos + 1;
    }
    dense_.pop_back();
    if (dense_.empty()) {
      Clear();
      return true;
    }
    if (dense_.capacity() > 64 && dense_.size() * 4 < dense_.capacity()) dense_.shrink_to_fit();
    if (capacity_ > 8 && dense_.size() * 8 < capacity_) {
      Rehash(std::max<size_t>(8, std::bit_ceil(dense_.size() * 2 + 1)));
    }
    return true;
  }

  void Clear() {
    dense_.clear();
    dense_.shrink_to_fit();
    index_.reset();
    capacity_ = 0;
  }

  size_t memory_usage() const {
    return dense_.capacity() * sizeof(Entry) + capacity_ * sizeof(uint32_t);
  }

 private:
  static constexpr size_t kNone = SIZE_MAX;

  size_t FindSlot(const Node* n) const {
    if (capacity_ == 0) return kNone;
    size_t mask = capacity_ - 1;
    for (size_t i = n->hash & mask;; i = (i + 1) & mask) {
      uint32_t v = index_[i];
      if (v == 0) return kNone;
      if (dense_[v - 1].node == n) return i;
    }
  }

  void Place(uint32_t hash, uint32_t value) {
    size_t mask = capacity_ - 1;
    size_t i = hash & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = value;
  }

  void EraseSlot(size_t hole) {
    size_t mask = capacity_ - 1;
    for (size_t j = (hole + 1) & mask;; j = (j + 1) & mask) {
      uint32_t v = index_[j];
      if (v == 0) break;
      size_t home = dense_[v - 1].node->hash & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        index_[hole] = v;
        hole = j;
      }
    }
    index_[hole] = 0;
  }

  void Rehash(size_t new_capacity) {
    index_ = std::make_unique<uint32_t[]>(new_capacity);
    capacity_ = new_capacity;
    for (size_t i = 0; i < dense_.size(); ++i) {
      Place(dense_[i].node->hash, static_cast<uint32_t>(i + 1));
    }
  }

  std::vector<Entry> dense_;
  std::unique_ptr<uint32_t[]> index_;
  size_t capacity_ = 0;
};

}  // namespace

namespace {
using NodeTable = ProbeTable<Node, NodeTraits>;
// Entries of a resize in progress moved by each lookup or overwrite.
constexpr size_t kRehashStepPerOp = NodeTable::kStepPerOp;
}  // namespace

struct Keyspace::Impl {
  NodeTable table;
  ExpireTable expires;
  uint64_t seed = NextKeyHashSeed();  // drawn anew by Clear() (kv/key_hash.h)

  // A capture in progress (docs/keyspace.md, "Capture").
  struct Capture {
    CaptureSink sink;
    std::vector<Node*> nodes;  // every node at BeginCapture; [next, end) still to visit
    size_t next = 0;
    // Nodes unlinked during the capture: `nodes` may still point at them,
    // so they stay allocated (their values freed) until EndCapture.
    std::vector<Node*> unlinked;
    // After a Clear: `nodes` holds only the pending nodes Clear took out of
    // the table (the capture owns them, values and all), and their
    // expiries (the expiry table forgot them) in `detached_expire_at`.
    bool detached = false;
    std::vector<int64_t> detached_expire_at;
  };
  std::unique_ptr<Capture> capture;
  // Every node's kCaptureParity bit equals this outside a capture;
  // BeginCapture flips it, so every existing node becomes pending at once
  // without touching a node.
  uint8_t parity = 0;

  // A node captured and not yet handed out: its state is still the state
  // at BeginCapture.
  bool Pending(const Node* n) const {
    return capture != nullptr && (n->flags & kCaptureParity) != parity;
  }
  void Emit(Node* n) { EmitWithExpire(n, ExpireOf(n)); }
  // The expiry of the capture's i-th node: recorded if detached, else the
  // table's.
  int64_t CapturedExpireAt(size_t i) const {
    return capture->detached ? capture->detached_expire_at[i] : ExpireOf(capture->nodes[i]);
  }
  void EmitWithExpire(Node* n, int64_t expire_at) {
    capture->sink(n->key(), n->value(), expire_at);
    MarkEmitted(n);
  }
  // The capture's own nodes, which no table holds: the detached ones.
  void FreeCaptureNodes() {
    if (capture->detached) {
      for (Node* n : capture->nodes) FreeNode(n);
    }
    for (Node* n : capture->unlinked) FreeNode(n);
    capture->unlinked.clear();
  }
  void MarkEmitted(Node* n) {
    n->flags = static_cast<uint8_t>((n->flags & ~kCaptureParity) | parity);
  }
  // Called before anything changes n or hands out a mutable pointer to it.
  void BeforeChange(Node* n) {
    if (Pending(n)) [[unlikely]] Emit(n);
  }
  // Frees an unlinked node, or during a capture its value only (see
  // Capture::unlinked).
  void Release(Node* n) {
    if (capture == nullptr) {
      FreeNode(n);
      return;
    }
    n->value() = Object::String(std::string());
    capture->unlinked.push_back(n);
  }

  Node* FindNode(std::string_view key) const { return table.Find(key, KeyHash(key, seed)); }

  int64_t ExpireOf(const Node* n) const {
    return n->has_expire() ? expires.Get(n) : kNoExpire;
  }

  void SetNodeExpire(Node* n, int64_t at_ms) {
    if (at_ms == kNoExpire) {
      expires.Remove(n);
    } else {
      expires.Set(n, at_ms);
    }
  }

  // Removes the node from the table and its expiry; caller releases.
  Node* Unlink(std::string_view key) {
    Node* n = table.Remove(key, KeyHash(key, seed));
    if (n != nullptr) {
      BeforeChange(n);  // still has its expiry
      expires.Remove(n);
    }
    return n;
  }
};

Keyspace::Keyspace() : impl_(new Impl) {}

Keyspace::~Keyspace() {
  EndCapture();
  Clear();
  delete impl_;
}

size_t Keyspace::size() const { return impl_->table.size(); }
size_t Keyspace::expires_count() const { return impl_->expires.size(); }

Object* Keyspace::Find(std::string_view key) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) return nullptr;
  impl_->BeforeChange(n);
  return &n->value();
}

const Object* Keyspace::Find(std::string_view key) const {
  const Node* n = impl_->FindNode(key);
  return n ? &n->value() : nullptr;
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
  *expire_at = impl_->ExpireOf(n);
  impl_->BeforeChange(n);
  if (touch_ms >= 0 && track_access_ && !ExpiredAt(*expire_at, touch_ms)) TouchNode(n, touch_ms);
  // Reads move a resize along too (nodes never move: n stays valid).
  if (impl_->table.rehashing()) [[unlikely]] impl_->table.RehashStep(kRehashStepPerOp);
  return &n->value();
}

Object& Keyspace::Set(std::string_view key, Object value, bool keep_ttl) {
  uint32_t hash = KeyHash(key, impl_->seed);
  if (Node* n = impl_->table.Find(key, hash)) {
    impl_->BeforeChange(n);
    n->value() = std::move(value);
    if (!keep_ttl) impl_->expires.Remove(n);
    TouchNode(n, access_clock_ms_);
    if (impl_->table.rehashing()) [[unlikely]] impl_->table.RehashStep(kRehashStepPerOp);
    return n->value();
  }
  Node* n = NewNode(key, hash, std::move(value));
  n->flags = impl_->parity;  // not part of a capture in progress
  TouchNode(n, access_clock_ms_);
  impl_->table.Insert(n);
  return n->value();
}

bool Keyspace::Erase(std::string_view key) {
  Node* n = impl_->Unlink(key);
  if (n == nullptr) return false;
  impl_->Release(n);
  return true;
}

std::optional<Object> Keyspace::Extract(std::string_view key, int64_t* expire_at) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) return std::nullopt;
  if (expire_at != nullptr) *expire_at = impl_->ExpireOf(n);
  impl_->Unlink(key);
  std::optional<Object> value(std::move(n->value()));
  impl_->Release(n);
  return value;
}

void Keyspace::Swap(Keyspace& other) {
  assert(!capturing() && !other.capturing());
  std::swap(impl_, other.impl_);
}

void Keyspace::Clear() {
  if (Impl::Capture* c = impl_->capture.get()) {
    // The capture goes on with the keys not handed out yet, taken out of
    // the table with their values and expiries (as a fork's child keeps
    // its copy); everything else is freed.
    std::vector<Node*> keep;
    std::vector<int64_t> keep_expire_at;
    for (size_t i = c->next; i < c->nodes.size(); ++i) {
      Node* n = c->nodes[i];
      if (!impl_->Pending(n)) continue;
      keep.push_back(n);
      keep_expire_at.push_back(impl_->CapturedExpireAt(i));
      if (c->detached) c->nodes[i] = nullptr;  // not freed below
    }
    if (c->detached) std::erase(c->nodes, nullptr);
    impl_->FreeCaptureNodes();
    impl_->table.ForEach([&](Node* n) {
      if (!impl_->Pending(n)) FreeNode(n);
    });
    c->nodes = std::move(keep);
    c->detached_expire_at = std::move(keep_expire_at);
    c->next = 0;
    c->detached = true;
  } else {
    impl_->table.ForEach([](Node* n) { FreeNode(n); });
  }
  impl_->table.Reset();
  impl_->expires.Clear();
  impl_->seed = NextKeyHashSeed();
}

int64_t Keyspace::GetExpire(std::string_view key) const {
  const Node* n = impl_->FindNode(key);
  return n ? impl_->ExpireOf(n) : kNoExpire;
}

bool Keyspace::SetExpire(std::string_view key, int64_t at_ms) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) return false;
  impl_->BeforeChange(n);
  impl_->SetNodeExpire(n, at_ms);
  return true;
}

bool Keyspace::Persist(std::string_view key) {
  Node* n = impl_->FindNode(key);
  if (n == nullptr) return false;
  impl_->BeforeChange(n);
  return impl_->expires.Remove(n);
}

uint64_t Keyspace::Scan(uint64_t cursor, size_t count,
                        const std::function<void(std::string_view, const Object&)>& fn) const {
  return impl_->table.Scan(cursor, count, [&](const Node* n) { fn(n->key(), n->value()); });
}

void Keyspace::ForEach(
    const std::function<void(std::string_view, const Object&, int64_t)>& fn) const {
  impl_->table.ForEach([&](const Node* n) { fn(n->key(), n->value(), impl_->ExpireOf(n)); });
}

std::string Keyspace::RandomKey(uint64_t random) const {
  const Node* n = impl_->table.RandomEntry(random);
  return n ? std::string(n->key()) : std::string();
}

void Keyspace::SampleExpiring(uint64_t random, size_t n,
                              const std::function<void(std::string_view, int64_t)>& fn) const {
  const auto& all = impl_->expires.entries();
  if (all.empty()) return;
  if (n > all.size()) n = all.size();
  size_t start = random % all.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& e = all[(start + i) % all.size()];
    fn(e.node->key(), e.at);
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

bool Keyspace::RehashStep(size_t budget) { return impl_->table.RehashStep(budget); }
bool Keyspace::rehashing() const { return impl_->table.rehashing(); }

size_t Keyspace::MemoryUsage() const {
  size_t total = impl_->table.memory_usage() + impl_->expires.memory_usage();
  impl_->table.ForEach(
      [&](const Node* n) { total += n->alloc_size() + ValueMemory(n->value()); });
  return total;
}

void Keyspace::BeginCapture(CaptureSink sink) {
  assert(!capturing() && "one capture at a time");
  if (capturing()) EndCapture();  // keeps the parity invariant if asserts are off
  auto c = std::make_unique<Impl::Capture>();
  c->sink = std::move(sink);
  c->nodes.reserve(impl_->table.size());
  impl_->table.ForEach([&](Node* n) { c->nodes.push_back(n); });
  impl_->capture = std::move(c);
  impl_->parity ^= kCaptureParity;
}

bool Keyspace::CaptureStep(size_t max_keys) {
  Impl::Capture* c = impl_->capture.get();
  if (c == nullptr) return false;
  size_t end = std::min(c->nodes.size(), c->next + max_keys);
  for (; c->next < end; ++c->next) {
    Node* n = c->nodes[c->next];
    if (impl_->Pending(n)) impl_->EmitWithExpire(n, impl_->CapturedExpireAt(c->next));
  }
  return c->next < c->nodes.size();
}

void Keyspace::EndCapture() {
  Impl::Capture* c = impl_->capture.get();
  if (c == nullptr) return;
  // Nodes not handed out take the new parity too, so the next capture
  // finds every node pending again (detached ones are freed).
  if (!c->detached) {
    for (size_t i = c->next; i < c->nodes.size(); ++i) impl_->MarkEmitted(c->nodes[i]);
  }
  impl_->FreeCaptureNodes();
  impl_->capture.reset();
}

bool Keyspace::capturing() const { return impl_->capture != nullptr; }

}  // namespace tandem::kv
