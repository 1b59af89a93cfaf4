// Object: the value stored under a key. One class per data type holds the
// type's contents (string bytes, hash fields, later lists/sets/zsets/streams);
// Object is the tagged holder the keyspace stores, so a new type is a new
// alternative here plus its own *_value.h and *_commands.cc, nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <new>

#include "kv/hash_value.h"

namespace tandem::kv {

enum class ObjectType : uint8_t { kString = 0, kHash = 1 /* kList, kSet, kZSet, kStream next */ };

// The name TYPE and SCAN ... TYPE use ("string", "hash", ...).
std::string_view TypeName(ObjectType t);

// Layout: a union of the string and the hash pointer plus a one-byte tag:
// 33 bytes of data in a 40-byte object. The keyspace's node derives from
// Object and keeps its own fields in the 7 bytes of tail padding (the
// Itanium C++ ABI lets a derived class reuse a non-POD base's tail padding),
// so the special members below must touch only s_/h_ and type_.
class Object {
 public:
  static Object String(std::string s) { return Object(std::move(s)); }
  static Object NewHash() { return Object(std::make_unique<HashValue>()); }

  // Takes over an existing hash (COPY, snapshot loading).
  static Object Hash(std::unique_ptr<HashValue> h) { return Object(std::move(h)); }

  Object(Object&& o) noexcept : type_(o.type_) {
    if (type_ == ObjectType::kString) {
      new (&s_) std::string(std::move(o.s_));
    } else {
      h_ = o.h_;
      o.h_ = nullptr;
    }
  }
  Object& operator=(Object&& o) noexcept {
    if (this == &o) return *this;
    if (type_ == ObjectType::kString && o.type_ == ObjectType::kString) {
      s_ = std::move(o.s_);
      return *this;
    }
    Destroy();
    type_ = o.type_;
    if (type_ == ObjectType::kString) {
      new (&s_) std::string(std::move(o.s_));
    } else {
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  ~Object() { Destroy(); }
  Object Clone() const;  // deep copy (COPY)

  ObjectType type() const { return type_; }
  bool is_string() const { return type_ == ObjectType::kString; }
  bool is_hash() const { return type_ == ObjectType::kHash; }

  // Accessors; calling one for the wrong type is a programming error.
  std::string& str() { return s_; }
  const std::string& str() const { return s_; }
  HashValue& hash() { return *h_; }
  const HashValue& hash() const { return *h_; }

  // What OBJECT ENCODING reports, following Redis's thresholds
  // (string: int / embstr (<=44 bytes) / raw; hash: listpack / hashtable).
  std::string_view EncodingName() const;

 private:
  explicit Object(std::string s) : s_(std::move(s)), type_(ObjectType::kString) {}
  explicit Object(std::unique_ptr<HashValue> h) : h_(h.release()), type_(ObjectType::kHash) {}
  void Destroy() {
    if (type_ == ObjectType::kString) {
      s_.~basic_string();
    } else {
      delete h_;
    }
  }

  union {
    std::string s_;
    HashValue* h_;
  };
  ObjectType type_;
};

}  // namespace tandem::kv
