// Keyspace: the database's keys, their values and their expiry times.
//
// Pure data structure: it never looks at a clock and never expires anything
// by itself. Expiry policy (lazy on access, the active cycle, hiding on
// followers) lives in CommandContext and StateMachine::ExpireCycle, which
// decide when to call Erase. That keeps apply() deterministic.
//
// Layout (docs/keyspace.md): an open-addressing table of pointers to compact
// nodes (value, expiry, access metadata and the key bytes in one
// allocation), plus a dense array of the nodes that have an expiry, for
// O(1) random sampling by the active expiry cycle. Object pointers handed
// out stay valid until the key is erased or overwritten.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kv/object.h"

namespace tandem::kv {

inline constexpr int64_t kNoExpire = -1;

// Whether a key with absolute expiry expire_at (Unix ms; kNoExpire: none)
// has expired at now_ms.
inline bool ExpiredAt(int64_t expire_at, int64_t now_ms) {
  return expire_at != kNoExpire && expire_at <= now_ms;
}

class Keyspace {
 public:
  Keyspace();
  ~Keyspace();
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  size_t size() const;
  size_t expires_count() const;

  // The value under key, ignoring expiry; nullptr when absent.
  Object* Find(std::string_view key);
  const Object* Find(std::string_view key) const;
  // One lookup for the hot path: the value (nullptr when absent), its
  // expiry in *expire_at (kNoExpire when none or absent) and, when
  // touch_ms >= 0, records an access at that time (as Touch) unless the key
  // has expired by then.
  Object* Access(std::string_view key, int64_t* expire_at, int64_t touch_ms);

  // Stores value under key, replacing any old value. The old expiry is
  // dropped unless keep_ttl. Returns the stored object.
  Object& Set(std::string_view key, Object value, bool keep_ttl = false);
  // Removes key and its expiry. False when absent.
  bool Erase(std::string_view key);
  // Removes key and returns its value (and expiry in *expire_at when not
  // null); nullopt when absent. RENAME moves values with it.
  std::optional<Object> Extract(std::string_view key, int64_t* expire_at);
  void Clear();
  // Exchanges the contents (keys, values, expiries, any table resize in
  // progress) with `other`; each keeps its own access tracking. Neither
  // may be capturing.
  void Swap(Keyspace& other);

  // Absolute expiry in Unix ms, or kNoExpire (also for an absent key).
  int64_t GetExpire(std::string_view key) const;
  // Sets an absolute expiry on an existing key; false when the key is absent.
  // at_ms == kNoExpire is the same as Persist.
  bool SetExpire(std::string_view key, int64_t at_ms);
  // Removes the expiry; true when there was one.
  bool Persist(std::string_view key);

  // SCAN: visits the keys of about `count` buckets from cursor and returns
  // the next cursor, 0 when the scan is complete. A key present for the
  // whole scan is visited at least once, even across resizes. fn must not
  // modify the keyspace.
  uint64_t Scan(uint64_t cursor, size_t count,
                const std::function<void(std::string_view key, const Object&)>& fn) const;
  // Calls fn for every key (KEYS, snapshots, digest). fn must not modify.
  void ForEach(
      const std::function<void(std::string_view key, const Object&, int64_t expire_at)>& fn) const;

  // A key chosen with `random` (any 64-bit value from the caller's source);
  // empty when the keyspace is empty.
  std::string RandomKey(uint64_t random) const;
  // Up to `n` distinct keys that have an expiry, starting at a position
  // derived from `random` (active expiry cycle sampling). fn must not modify.
  void SampleExpiring(uint64_t random, size_t n,
                      const std::function<void(std::string_view key, int64_t expire_at)>& fn) const;

  // Per-key access metadata for OBJECT IDLETIME/FREQ. Not part of the
  // replicated state (never in snapshots or digests). Kept with one-second
  // resolution modulo 2^24 s (194 days), like Redis's LRU clock.
  void Touch(std::string_view key, int64_t now_ms);
  // The time Set stamps as the access time of the keys it stores (the
  // state machine sets it before each command).
  void SetAccessClock(int64_t now_ms) { access_clock_ms_ = now_ms; }
  // While off, reads (Access, Touch) record no access; Set still stamps the
  // keys it writes. The server turns it off while a snapshot child process
  // runs, as Redis does during a fork: an access writes the key's node, and
  // every first write to a page the child shares is a copy-on-write fault
  // (after a fork, GETs of 100k keys stalled the leader's loop on this VM).
  void set_access_tracking(bool on) { track_access_ = on; }
  bool access_tracking() const { return track_access_; }
  // Milliseconds since the last access (0 for an absent key).
  int64_t IdleMs(std::string_view key, int64_t now_ms) const;
  // How many times the key was accessed, saturating at 255.
  uint64_t AccessCount(std::string_view key) const;

  // Moves a resize of the key table along (docs/keyspace.md): about
  // `budget` keys from the old slot array to the new one. Reads and writes
  // already move a few keys each; the server also calls this from its timer
  // so a resize finishes (and frees the old array) on an idle node. Returns
  // whether a resize is still in progress.
  bool RehashStep(size_t budget);
  // Whether a resize of the key table is in progress.
  bool rehashing() const;

  // Approximate bytes used by the table, the nodes and their values.
  size_t MemoryUsage() const;

  // Capture: a consistent copy of the keyspace as it is at BeginCapture,
  // handed out key by key while commands keep changing it (fork-free
  // snapshots; docs/keyspace.md, "Capture"). BeginCapture records which
  // keys exist (O(keys), pointers only); each key of that moment then
  // reaches `sink` exactly once with its value and expiry of that moment:
  // from CaptureStep, or from the first call that would change it or hand
  // out a mutable pointer to it (Find, Access, Set, Erase, Extract,
  // SetExpire, Persist), just before it does. Keys created after
  // BeginCapture never reach the sink. The sink must not use the keyspace.
  // Nodes unlinked during a capture keep their memory (not their value's)
  // until EndCapture or Clear frees them.
  using CaptureSink =
      std::function<void(std::string_view key, const Object& value, int64_t expire_at)>;
  // Precondition: !capturing().
  void BeginCapture(CaptureSink sink);
  // Visits the next `max_keys` captured keys and hands those not handed out
  // yet to the sink; returns whether any remain to visit. A Clear() during
  // a capture keeps the keys not handed out yet (values and expiries) for
  // the capture alone, until it ends.
  bool CaptureStep(size_t max_keys);
  // Ends the capture, complete or not (keys not handed out never will be).
  void EndCapture();
  bool capturing() const;

 private:
  struct Impl;
  Impl* impl_;
  int64_t access_clock_ms_ = 0;
  bool track_access_ = true;
};

}  // namespace tandem::kv
