#include "kv/object.h"

#include "kv/command.h"

namespace tandem::kv {

std::string_view TypeName(ObjectType t) {
  switch (t) {
    case ObjectType::kString:
      return "string";
    case ObjectType::kHash:
      return "hash";
  }
  return "none";
}

Object Object::Clone() const {
  if (is_string()) return String(str());
  return Object(hash().Clone());
}

std::string_view Object::EncodingName() const {
  if (is_hash()) return hash().is_listpack() ? "listpack" : "hashtable";
  const std::string& s = str();
  int64_t unused;
  if (s.size() <= 20 && ParseInt64(s, &unused)) return "int";
  return s.size() <= 44 ? "embstr" : "raw";
}

}  // namespace tandem::kv
