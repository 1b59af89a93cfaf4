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
// The table does not own entries: Insert takes a pointer, Remove hands it
// back, and the owner frees. Traits must provide
//   static std::string_view Key(const Entry*);
//   static uint32_t Hash(const Entry*);   // the stored HashKey() of Key
#pragma once

#include <bit>
#include <cstdint>
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
  Entry* slot(size_t i) const { return slots_[i]; }

  Entry* Find(std::string_view key, uint32_t hash) const {
    if (size_ == 0) return nullptr;
    size_t mask = capacity_ - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Entry* e = slots_[i];
      if (e == nullptr) return nullptr;
      if (Traits::Hash(e) == hash && Traits::Key(e) == key) return e;
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
    for (;; i = (i + 1) & mask) {
      Entry* e = slots_[i];
      if (e == nullptr) return nullptr;
      if (Traits::Hash(e) == hash && Traits::Key(e) == key) break;
    }
    Entry* removed = slots_[i];
    // Backward shift: move later entries of the run into the hole when
    // their home bucket allows it.
    size_t hole = i;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      Entry* e = slots_[j];
      if (e == nullptr) break;
      size_t home = Traits::Hash(e) & mask;
      // e may move to hole iff hole lies cyclically in [home, j).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots_[hole] = e;
        hole = j;
      }
    }
    slots_[hole] = nullptr;
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
      for (size_t i = home; slots_[i] != nullptr; i = (i + 1) & mask) {
        if ((Traits::Hash(slots_[i]) & mask) == home) fn(slots_[i]);
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
      if (slots_[i] != nullptr) fn(slots_[i]);
    }
  }

  // The first entry at or after slot (random % capacity), cyclically;
  // nullptr when empty.
  Entry* RandomEntry(uint64_t random) const {
    if (size_ == 0) return nullptr;
    size_t mask = capacity_ - 1;
    for (size_t i = random & mask;; i = (i + 1) & mask) {
      if (slots_[i] != nullptr) return slots_[i];
    }
  }

  // Bytes of the slot array.
  size_t memory_usage() const { return capacity_ * sizeof(Entry*); }

 private:
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

  void Place(Entry* e) {
    size_t mask = capacity_ - 1;
    size_t i = Traits::Hash(e) & mask;
    while (slots_[i] != nullptr) i = (i + 1) & mask;
    slots_[i] = e;
  }

  void Rehash(size_t new_capacity) {
    std::unique_ptr<Entry*[]> old = std::move(slots_);
    size_t old_capacity = capacity_;
    slots_ = std::make_unique<Entry*[]>(new_capacity);  // value-initialised: nullptr
    capacity_ = new_capacity;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i] != nullptr) Place(old[i]);
    }
  }

  std::unique_ptr<Entry*[]> slots_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace tandem::kv
