// Object: the value stored under a key. One class per data type holds the
// type's contents (string bytes, hash fields, later lists/sets/zsets/streams);
// Object is the tagged holder the keyspace stores, so a new type is a new
// alternative here plus its own *_value.h and *_commands.cc, nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "kv/hash_value.h"

namespace tandem::kv {

enum class ObjectType : uint8_t { kString = 0, kHash = 1 /* kList, kSet, kZSet, kStream next */ };

// The name TYPE and SCAN ... TYPE use ("string", "hash", ...).
std::string_view TypeName(ObjectType t);

class Object {
 public:
  static Object String(std::string s) { return Object(std::move(s)); }
  static Object NewHash() { return Object(std::make_unique<HashValue>()); }

  // Takes over an existing hash (COPY, snapshot loading).
  static Object Hash(std::unique_ptr<HashValue> h) { return Object(std::move(h)); }

  Object(Object&&) noexcept = default;
  Object& operator=(Object&&) noexcept = default;
  Object Clone() const;  // deep copy (COPY)

  ObjectType type() const { return static_cast<ObjectType>(v_.index()); }
  bool is_string() const { return type() == ObjectType::kString; }
  bool is_hash() const { return type() == ObjectType::kHash; }

  // Accessors; calling one for the wrong type is a programming error.
  std::string& str() { return std::get<std::string>(v_); }
  const std::string& str() const { return std::get<std::string>(v_); }
  HashValue& hash() { return *std::get<std::unique_ptr<HashValue>>(v_); }
  const HashValue& hash() const { return *std::get<std::unique_ptr<HashValue>>(v_); }

  // What OBJECT ENCODING reports, following Redis's thresholds
  // (string: int / embstr (<=44 bytes) / raw; hash: listpack / hashtable).
  std::string_view EncodingName() const;

 private:
  explicit Object(std::string s) : v_(std::move(s)) {}
  explicit Object(std::unique_ptr<HashValue> h) : v_(std::move(h)) {}
  std::variant<std::string, std::unique_ptr<HashValue>> v_;
};

}  // namespace tandem::kv
