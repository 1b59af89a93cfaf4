// ProbeTable: an open-addressing hash table of entry pointers with linear
// probing and backward-shift deletion (no tombstones), power-of-two capacity.
// The keyspace and hash values both use it. Design: docs/keyspace.md.
//
// Invariant (what linear probing without tombstones guarantees): an entry
// whose home bucket is h and that sits in slot p has every slot h..p
// (cyclically) occupied. So the entries of home bucket h are exactly the
// entries with home h found walking from h to the first empty slot, which
// lets Scan visit "home buckets" in Redis's reverse-binary cursor order and
// keep Redis's SCAN guarantee across growth and shrinking.
//
// Each slot holds the entry's pointer with 16 bits of its hash (bits 16..31)
// in the pointer's unused top 16 bits (x86-64 and AArch64 user-space
// pointers are below 2^48), so a probe compares tags in the slot array and
// dereferences only the entries whose tag matches: a lookup touches about
// one node instead of one per probed slot.
//
// The table does not own entries: Insert takes a pointer, Remove hands it
// back, and the owner frees. Traits must provide
//   static std::string_view Key(const Entry*);
//   static uint32_t Hash(const Entry*);   // the stored HashKey() of Key
#pragma once

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "util/checksum.h"

namespace tandem::kv {

// The 32-bit hash the tables store per entry.
inline uint32_t HashKey(std::string_view key) {
  return static_cast<uint32_t>(Checksum64(key, 0x7a6e64656d6b76ull));
}

template <typename Entry, typename Traits>
class ProbeTable {
 public:
  static constexpr size_t kMinCapacity = 8;

  ProbeTable() = default;
  ProbeTable(const ProbeTable&) = delete;
  ProbeTable& operator=(const ProbeTable&) = delete;
  ProbeTable(ProbeTable&& o) noexcept
      : slots_(std::move(o.slots_)), capacity_(o.capacity_), size_(o.size_) {
    o.capacity_ = 0;
    o.size_ = 0;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Slot i (0 <= i < capacity()); nullptr when empty.
  Entry* slot(size_t i) const { return Decode(slots_[i]); }

  Entry* Find(std::string_view key, uint32_t hash) const {
    if (size_ == 0) return nullptr;
    size_t mask = capacity_ - 1;
    uintptr_t tag = Tag(hash);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      uintptr_t v = slots_[i];
      if (v == 0) return nullptr;
      if ((v & kTagMask) == tag) {
        Entry* e = Decode(v);
        if (Traits::Hash(e) == hash && Traits::Key(e) == key) return e;
      }
    }
  }

  // Adds an entry whose key is not in the table.
  void Insert(Entry* e) {
    if ((size_ + 1) * 8 > capacity_ * 7 || capacity_ == 0) {
      Rehash(capacity_ == 0 ? kMinCapacity : capacity_ * 2);
    }
    Place(e);
    ++size_;
  }

  // Removes and returns the entry with this key; nullptr when absent.
  Entry* Remove(std::string_view key, uint32_t hash) {
    if (size_ == 0) return nullptr;
    size_t mask = capacity_ - 1;
    size_t i = hash & mask;
    uintptr_t tag = Tag(hash);
    for (;; i = (i + 1) & mask) {
      uintptr_t v = slots_[i];
      if (v == 0) return nullptr;
      if ((v & kTagMask) == tag) {
        Entry* e = Decode(v);
        if (Traits::Hash(e) == hash && Traits::Key(e) == key) break;
      }
    }
    Entry* removed = Decode(slots_[i]);
    // Backward shift: move later entries of the run into the hole when
    // their home bucket allows it.
    size_t hole = i;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      uintptr_t v = slots_[j];
      if (v == 0) break;
      size_t home = Traits::Hash(Decode(v)) & mask;
      // The entry may move to hole iff hole lies cyclically in [home, j).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots_[hole] = v;
        hole = j;
      }
    }
    slots_[hole] = 0;
    --size_;
    if (capacity_ > kMinCapacity && size_ * 10 < capacity_) Rehash(ShrunkCapacity());
    return removed;
  }

  // Forgets every entry (the owner must have freed them) and the memory.
  void Reset() {
    slots_.reset();
    capacity_ = 0;
    size_ = 0;
  }

  // Visits the entries of about `count` home buckets starting at cursor in
  // reverse-binary order; returns the next cursor, 0 when done.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const {
    if (size_ == 0) return 0;
    uint64_t mask = capacity_ - 1;
    size_t visited = 0;
    do {
      size_t home = cursor & mask;
      for (size_t i = home; slots_[i] != 0; i = (i + 1) & mask) {
        Entry* e = Decode(slots_[i]);
        if ((Traits::Hash(e) & mask) == home) fn(e);
      }
      // Increment the reversed cursor over the unmasked high bits.
      cursor |= ~mask;
      cursor = ReverseBits(cursor);
      ++cursor;
      cursor = ReverseBits(cursor);
      ++visited;
    } while (cursor != 0 && visited < count);
    return cursor;
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i] != 0) fn(Decode(slots_[i]));
    }
  }

  // The first entry at or after slot (random % capacity), cyclically;
  // nullptr when empty.
  Entry* RandomEntry(uint64_t random) const {
    if (size_ == 0) return nullptr;
    size_t mask = capacity_ - 1;
    for (size_t i = random & mask;; i = (i + 1) & mask) {
      if (slots_[i] != 0) return Decode(slots_[i]);
    }
  }

  // Bytes of the slot array.
  size_t memory_usage() const { return capacity_ * sizeof(uintptr_t); }

 private:
  static constexpr int kTagShift = 48;
  static constexpr uintptr_t kTagMask = ~uintptr_t{0} << kTagShift;
  static_assert(sizeof(uintptr_t) == 8, "pointer tagging needs 64-bit pointers");

  static uintptr_t Tag(uint32_t hash) { return static_cast<uintptr_t>(hash >> 16) << kTagShift; }
  static Entry* Decode(uintptr_t v) { return reinterpret_cast<Entry*>(v & ~kTagMask); }
  static uintptr_t Encode(Entry* e, uint32_t hash) {
    uintptr_t p = reinterpret_cast<uintptr_t>(e);
    if ((p & kTagMask) != 0) std::abort();  // a pointer above 2^48: cannot tag
    return p | Tag(hash);
  }

  static uint64_t ReverseBits(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
  }

  size_t ShrunkCapacity() const {
    size_t want = std::bit_ceil(size_ * 2 + 1);
    return want < kMinCapacity ? kMinCapacity : want;
  }

  void Place(Entry* e) { PlaceEncoded(Encode(e, Traits::Hash(e)), Traits::Hash(e)); }

  void PlaceEncoded(uintptr_t v, uint32_t hash) {
    size_t mask = capacity_ - 1;
    size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = v;
  }

  void Rehash(size_t new_capacity) {
    std::unique_ptr<uintptr_t[]> old = std::move(slots_);
    size_t old_capacity = capacity_;
    slots_ = std::make_unique<uintptr_t[]>(new_capacity);  // value-initialised: 0
    capacity_ = new_capacity;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i] != 0) PlaceEncoded(old[i], Traits::Hash(Decode(old[i])));
    }
  }

  // Tagged entry pointers; 0 = empty.
  std::unique_ptr<uintptr_t[]> slots_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace tandem::kv
