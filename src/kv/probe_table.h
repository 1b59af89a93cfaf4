// ProbeTable: an open-addressing hash table of entry pointers with linear
// probing and backward-shift deletion (no tombstones), power-of-two capacity,
// that resizes incrementally. The keyspace and hash values both use it.
// Design: docs/keyspace.md.
//
// Invariant (what linear probing without tombstones guarantees): an entry
// whose home bucket is h and that sits in slot p has every slot h..p
// (cyclically) occupied. So the entries of home bucket h are exactly the
// entries with home h found walking from h to the first empty slot, which
// lets Scan visit "home buckets" in Redis's reverse-binary cursor order and
// keep Redis's SCAN guarantee across growth and shrinking.
//
// Incremental resizing (like Redis's dict): a resize allocates the new slot
// array and keeps the old one; every entry is in exactly one of the two.
// Inserts go to the new array; each Insert and Remove (and each call of
// RehashStep, which owners make from reads and timers) moves a bounded
// number of entries across, whole runs (maximal sequences of occupied
// slots) at a time in slot order, starting after an empty slot of the old
// array. An entry's home bucket lies in its run, and the old array only
// loses entries, so "the old array still holds this key" is "its old home
// bucket is not in the stretch of slots passed so far": lookups and removes
// probe the old array only for such keys, then the new one. The old array
// is freed when its last entry leaves. Tables below kIncrementalFrom slots
// still resize at once (a few microseconds). No operation moves more than
// max(budget, one run) entries; at load 7/8 runs average about 7 entries.
//
// Each slot holds the entry's pointer with 16 bits of its hash (bits 16..31)
// in the pointer's unused top 16 bits (x86-64 and AArch64 user-space
// pointers are below 2^48), so a probe compares tags in the slot array and
// dereferences only the entries whose tag matches: a lookup touches about
// one node instead of one per probed slot.
//
// The table does not own entries: Insert takes a pointer, Remove hands it
// back, and the owner frees. Entries never move in memory, so pointers stay
// valid across resizes. Traits must provide
//   static std::string_view Key(const Entry*);
//   static uint32_t Hash(const Entry*);   // a stored 32-bit hash of Key
// (the keyspace and hash values use KeyHash, kv/key_hash.h).
#pragma once

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "kv/zeroed_array.h"

namespace tandem::kv {

// kIncrementalFrom: the smallest old-array capacity that is resized
// incrementally (smaller ones are rehashed at once). Tests lower it.
template <typename Entry, typename Traits, size_t kIncrementalFrom = 4096>
class ProbeTable {
 public:
  static constexpr size_t kMinCapacity = 8;
  // Entries moved by each Insert and Remove during a resize, and what
  // owners pass to RehashStep from their other operations. Growth starts at
  // load 7/8 of the old array, so the new one (twice as large) has room for
  // as many inserts as there are entries to move: moving at least one per
  // insert always finishes first.
  static constexpr size_t kStepPerOp = 8;

  ProbeTable() = default;
  ProbeTable(const ProbeTable&) = delete;
  ProbeTable& operator=(const ProbeTable&) = delete;
  ProbeTable(ProbeTable&& o) noexcept
      : cur_(std::move(o.cur_)),
        old_(std::move(o.old_)),
        size_(std::exchange(o.size_, 0)),
        old_size_(std::exchange(o.old_size_, 0)),
        rehash_start_(o.rehash_start_),
        rehash_passed_(o.rehash_passed_) {}

  size_t size() const { return size_; }
  // Capacity of the slot array inserts go to (the resize's target while
  // resizing).
  size_t capacity() const { return cur_.size(); }
  // True while a resize is in progress (two slot arrays exist).
  bool rehashing() const { return old_.data() != nullptr; }

  Entry* Find(std::string_view key, uint32_t hash) const {
    if (size_ == 0) return nullptr;
    if (old_.data() != nullptr) [[unlikely]] {
      if (!Moved(hash)) {
        size_t i = FindSlot(old_, key, hash);
        if (i != kNone) return Decode(old_[i]);
      }
    }
    size_t i = FindSlot(cur_, key, hash);
    return i == kNone ? nullptr : Decode(cur_[i]);
  }

  // Adds an entry whose key is not in the table.
  void Insert(Entry* e) {
    if (rehashing()) {
      RehashStep(kStepPerOp);
      // Unreachable with the step above (see kStepPerOp); kept as a bound.
      if (rehashing() && (size_ + 1) * 8 > cur_.size() * 7) FinishRehash();
    }
    if (!rehashing() && (cur_.size() == 0 || (size_ + 1) * 8 > cur_.size() * 7)) {
      Resize(cur_.size() == 0 ? kMinCapacity : cur_.size() * 2);
    }
    uint32_t hash = Traits::Hash(e);
    Place(cur_, Encode(e, hash), hash);
    ++size_;
  }

  // Removes and returns the entry with this key; nullptr when absent.
  Entry* Remove(std::string_view key, uint32_t hash) {
    if (size_ == 0) return nullptr;
    Entry* removed = nullptr;
    if (rehashing() && !Moved(hash)) {
      size_t i = FindSlot(old_, key, hash);
      if (i != kNone) {
        removed = Decode(old_[i]);
        EraseSlot(old_, i);
        --old_size_;
      }
    }
    if (removed == nullptr) {
      size_t i = FindSlot(cur_, key, hash);
      if (i == kNone) return nullptr;
      removed = Decode(cur_[i]);
      EraseSlot(cur_, i);
    }
    --size_;
    if (rehashing()) {
      RehashStep(kStepPerOp);  // also ends the resize when the old array emptied
    } else if (cur_.size() > kMinCapacity && size_ * 10 < cur_.size()) {
      Resize(ShrunkCapacity());
    }
    return removed;
  }

  // Moves entries of an in-progress resize to the new array: whole runs
  // until at least `budget` entries moved or 10 * budget empty slots were
  // passed. Frees the old array when it is empty. Returns whether the
  // resize is still in progress (false when there is none).
  bool RehashStep(size_t budget) {
    if (!rehashing()) return false;
    size_t mask = old_.size() - 1;
    size_t empty_budget = budget > SIZE_MAX / 10 ? SIZE_MAX : budget * 10;
    size_t moved = 0;
    while (moved < budget && old_size_ > 0) {
      size_t i = (rehash_start_ + rehash_passed_) & mask;
      uintptr_t v = old_[i];
      if (v == 0) {
        ++rehash_passed_;
        if (--empty_budget == 0) break;
        continue;
      }
      // The whole run: lookups tell the arrays apart by run boundaries.
      do {
        uint32_t hash = Traits::Hash(Decode(v));
        Place(cur_, v, hash);
        old_[i] = 0;
        --old_size_;
        ++moved;
        ++rehash_passed_;
        i = (i + 1) & mask;
        v = old_[i];
      } while (v != 0);
    }
    if (old_size_ == 0) {
      old_ = Slots();
      return false;
    }
    return true;
  }

  // Forgets every entry (the owner must have freed them) and the memory.
  void Reset() {
    cur_ = Slots();
    old_ = Slots();
    size_ = 0;
    old_size_ = 0;
  }

  // Visits the entries of about `count` home buckets starting at cursor in
  // reverse-binary order; returns the next cursor, 0 when done. During a
  // resize one step visits a bucket of the smaller array and all the
  // buckets of the larger one that it expands to (Redis's dictScan), so
  // the guarantee holds whichever array a key is in.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const {
    if (size_ == 0) return 0;
    size_t visited = 0;
    do {
      if (!rehashing()) {
        uint64_t mask = cur_.size() - 1;
        VisitHome(cur_, cursor & mask, fn);
        cursor = NextCursor(cursor, mask);
      } else {
        const Slots* small = &old_;
        const Slots* large = &cur_;
        if (small->size() > large->size()) std::swap(small, large);
        uint64_t m0 = small->size() - 1;
        uint64_t m1 = large->size() - 1;
        VisitHome(*small, cursor & m0, fn);
        // The large array's buckets whose low bits are cursor & m0.
        do {
          VisitHome(*large, cursor & m1, fn);
          cursor = NextCursor(cursor, m1);
        } while (cursor & (m0 ^ m1));
      }
      ++visited;
    } while (cursor != 0 && visited < count);
    return cursor;
  }

  // Calls fn once for every entry (both arrays during a resize).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slots* s : {&old_, &cur_}) {
      for (size_t i = 0; i < s->size(); ++i) {
        if ((*s)[i] != 0) fn(Decode((*s)[i]));
      }
    }
  }

  // A pseudo-random entry: during a resize the array is chosen with the
  // high 32 bits of `random` in proportion to the entries each holds, then
  // the first entry at or after slot (random % capacity), cyclically.
  // nullptr when empty.
  Entry* RandomEntry(uint64_t random) const {
    if (size_ == 0) return nullptr;
    const Slots& s = rehashing() && (random >> 32) % size_ < old_size_ ? old_ : cur_;
    size_t mask = s.size() - 1;
    for (size_t i = random & mask;; i = (i + 1) & mask) {
      if (s[i] != 0) return Decode(s[i]);
    }
  }

  // Bytes of the slot arrays (both during a resize).
  size_t memory_usage() const { return (cur_.size() + old_.size()) * sizeof(uintptr_t); }

 private:
  static constexpr int kTagShift = 48;
  static constexpr uintptr_t kTagMask = ~uintptr_t{0} << kTagShift;
  static constexpr size_t kNone = SIZE_MAX;
  static_assert(sizeof(uintptr_t) == 8, "pointer tagging needs 64-bit pointers");
  static_assert(std::has_single_bit(kIncrementalFrom) && kIncrementalFrom >= kMinCapacity);

  // A slot array: tagged entry pointers, 0 = empty. Large ones are mapped
  // lazily (zeroed_array.h), so a resize faults the new array's pages in as
  // slots are written instead of all at once.
  using Slots = ZeroedArray<uintptr_t>;

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

  // Increments the reversed cursor over the bits of mask.
  static uint64_t NextCursor(uint64_t cursor, uint64_t mask) {
    cursor |= ~mask;
    cursor = ReverseBits(cursor);
    ++cursor;
    return ReverseBits(cursor);
  }

  // Whether the old array's entries with this hash's home bucket have all
  // moved: the home lies in the slots passed since rehash_start_.
  bool Moved(uint32_t hash) const {
    size_t mask = old_.size() - 1;
    return ((hash - rehash_start_) & mask) < rehash_passed_;
  }

  // The slot holding key in s, or kNone.
  static size_t FindSlot(const Slots& s, std::string_view key, uint32_t hash) {
    size_t mask = s.size() - 1;
    uintptr_t tag = Tag(hash);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      uintptr_t v = s[i];
      if (v == 0) return kNone;
      if ((v & kTagMask) == tag) {
        Entry* e = Decode(v);
        if (Traits::Hash(e) == hash && Traits::Key(e) == key) return i;
      }
    }
  }

  static void Place(Slots& s, uintptr_t v, uint32_t hash) {
    size_t mask = s.size() - 1;
    size_t i = hash & mask;
    while (s[i] != 0) i = (i + 1) & mask;
    s[i] = v;
  }

  // Empties slot i, then backward shift: moves later entries of the run
  // into the hole when their home bucket allows it.
  static void EraseSlot(Slots& s, size_t i) {
    size_t mask = s.size() - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
      uintptr_t v = s[j];
      if (v == 0) break;
      size_t home = Traits::Hash(Decode(v)) & mask;
      // The entry may move to hole iff hole lies cyclically in [home, j).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        s[hole] = v;
        hole = j;
      }
    }
    s[hole] = 0;
  }

  // Calls fn for the entries of home bucket `home` in s.
  template <typename Fn>
  static void VisitHome(const Slots& s, size_t home, Fn& fn) {
    size_t mask = s.size() - 1;
    for (size_t i = home; s[i] != 0; i = (i + 1) & mask) {
      Entry* e = Decode(s[i]);
      if ((Traits::Hash(e) & mask) == home) fn(e);
    }
  }

  size_t ShrunkCapacity() const {
    size_t want = std::bit_ceil(size_ * 2 + 1);
    return want < kMinCapacity ? kMinCapacity : want;
  }

  // Starts a resize to new_capacity (no resize may be in progress): at once
  // when the table is empty or small, otherwise incrementally.
  void Resize(size_t new_capacity) {
    Slots old = std::move(cur_);
    cur_ = Slots(new_capacity);
    if (size_ == 0) return;
    if (old.size() < kIncrementalFrom) {
      for (size_t i = 0; i < old.size(); ++i) {
        if (old[i] != 0) Place(cur_, old[i], Traits::Hash(Decode(old[i])));
      }
      return;
    }
    old_ = std::move(old);
    old_size_ = size_;
    // Start after an empty slot (there is one: load <= 7/8), so every run
    // is moved whole.
    size_t start = 0;
    while (old_[start] != 0) ++start;
    rehash_start_ = start;
    rehash_passed_ = 0;
  }

  void FinishRehash() { RehashStep(SIZE_MAX); }

  Slots cur_;  // where inserts go
  Slots old_;  // being emptied into cur_ during a resize; no slots otherwise
  size_t size_ = 0;      // entries in both arrays
  size_t old_size_ = 0;  // entries still in old_
  // Resize progress: old_ slots rehash_start_ .. rehash_start_ +
  // rehash_passed_ - 1 (cyclically) are empty and stay so.
  size_t rehash_start_ = 0;
  size_t rehash_passed_ = 0;
};

}  // namespace tandem::kv
