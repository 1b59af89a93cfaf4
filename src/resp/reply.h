// resp::Reply: one RESP2/RESP3 reply as a tree value, as a client sees it
// (tandemctl, peer links, tests). Produced by ParseReply (reply_parser.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/writer.h"

namespace tandem::resp {

enum class ReplyType {
  kSimpleString,  // +OK
  kError,         // -ERR ... or RESP3 blob error !<len>
  kInteger,       // :42
  kBulkString,    // $3 foo
  kNull,          // RESP2 $-1 / *-1, RESP3 _
  kArray,         // *n
  kMap,           // RESP3 %n
  kSet,           // RESP3 ~n
  kPush,          // RESP3 >n
  kDouble,        // RESP3 ,1.5
  kBoolean,       // RESP3 #t / #f
  kBigNumber,     // RESP3 (123...
  kVerbatim,      // RESP3 =len fmt:text
};

// Human-readable name of a type ("array", "bulk string", ...).
std::string_view ReplyTypeName(ReplyType type);

struct Reply {
  ReplyType type = ReplyType::kNull;
  // Text of simple strings, errors (without the leading '-'), bulk strings,
  // big numbers (the digits), verbatim strings (without "fmt:") and doubles
  // (the text as received, e.g. "1.5", "inf").
  std::string str;
  int64_t integer = 0;   // kInteger
  double number = 0;     // kDouble
  bool boolean = false;  // kBoolean
  std::string format;    // kVerbatim: the three-letter format, e.g. "txt"
  // kArray, kSet, kPush: the elements. kMap: keys and values alternating
  // (key0, value0, key1, value1, ...).
  std::vector<Reply> elements;
  // RESP3 attributes (|n) that preceded this reply, flattened like a map.
  std::vector<Reply> attributes;

  static Reply SimpleString(std::string s);
  static Reply Error(std::string s);
  static Reply Integer(int64_t v);
  static Reply Bulk(std::string s);
  static Reply Null();
  static Reply Array(std::vector<Reply> elements);

  bool is_error() const { return type == ReplyType::kError; }
  bool is_null() const { return type == ReplyType::kNull; }
  // True for kArray, kMap, kSet and kPush.
  bool is_aggregate() const;

  // A one-line readable rendering for logs and tools, e.g.
  // ["OK", 1, (nil), {"k": "v"}, (error) ERR x, 1.5, true].
  std::string DebugString() const;

  bool operator==(const Reply& other) const = default;
};

// Writes `reply` back through `writer` (attributes are dropped). A reply
// parsed from the writer's own RESP3 output writes back byte-identical;
// RESP3-only types degrade as Writer documents when it speaks RESP2.
void WriteReply(const Reply& reply, Writer* writer);

}  // namespace tandem::resp
