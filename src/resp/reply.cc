#include "resp/reply.h"

#include <cstdio>
#include <utility>

namespace tandem::resp {
namespace {

void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "\\x%02x", c);
          out->append(hex);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendDebug(const Reply& r, std::string* out) {
  switch (r.type) {
    case ReplyType::kSimpleString:
    case ReplyType::kBulkString:
    case ReplyType::kVerbatim:
      AppendQuoted(r.str, out);
      return;
    case ReplyType::kError:
      out->append("(error) ");
      out->append(r.str);
      return;
    case ReplyType::kInteger:
      out->append(std::to_string(r.integer));
      return;
    case ReplyType::kNull:
      out->append("(nil)");
      return;
    case ReplyType::kDouble:
    case ReplyType::kBigNumber:
      out->append(r.str);
      return;
    case ReplyType::kBoolean:
      out->append(r.boolean ? "true" : "false");
      return;
    case ReplyType::kMap:
      out->push_back('{');
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) out->append(i % 2 == 1 ? ": " : ", ");
        AppendDebug(r.elements[i], out);
      }
      out->push_back('}');
      return;
    case ReplyType::kArray:
    case ReplyType::kSet:
    case ReplyType::kPush:
      if (r.type == ReplyType::kSet) out->push_back('~');
      if (r.type == ReplyType::kPush) out->push_back('>');
      out->push_back('[');
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) out->append(", ");
        AppendDebug(r.elements[i], out);
      }
      out->push_back(']');
      return;
  }
}

}  // namespace

std::string_view ReplyTypeName(ReplyType type) {
  switch (type) {
    case ReplyType::kSimpleString:
      return "simple string";
    case ReplyType::kError:
      return "error";
    case ReplyType::kInteger:
      return "integer";
    case ReplyType::kBulkString:
      return "bulk string";
    case ReplyType::kNull:
      return "null";
    case ReplyType::kArray:
      return "array";
    case ReplyType::kMap:
      return "map";
    case ReplyType::kSet:
      return "set";
    case ReplyType::kPush:
      return "push";
    case ReplyType::kDouble:
      return "double";
    case ReplyType::kBoolean:
      return "boolean";
    case ReplyType::kBigNumber:
      return "big number";
    case ReplyType::kVerbatim:
      return "verbatim string";
  }
  return "unknown";
}

Reply Reply::SimpleString(std::string s) {
  Reply r;
  r.type = ReplyType::kSimpleString;
  r.str = std::move(s);
  return r;
}

Reply Reply::Error(std::string s) {
  Reply r;
  r.type = ReplyType::kError;
  r.str = std::move(s);
  return r;
}

Reply Reply::Integer(int64_t v) {
  Reply r;
  r.type = ReplyType::kInteger;
  r.integer = v;
  return r;
}

Reply Reply::Bulk(std::string s) {
  Reply r;
  r.type = ReplyType::kBulkString;
  r.str = std::move(s);
  return r;
}

Reply Reply::Null() { return Reply(); }

Reply Reply::Array(std::vector<Reply> elements) {
  Reply r;
  r.type = ReplyType::kArray;
  r.elements = std::move(elements);
  return r;
}

bool Reply::is_aggregate() const {
  return type == ReplyType::kArray || type == ReplyType::kMap || type == ReplyType::kSet ||
         type == ReplyType::kPush;
}

std::string Reply::DebugString() const {
  std::string out;
  AppendDebug(*this, &out);
  return out;
}

void WriteReply(const Reply& reply, Writer* writer) {
  switch (reply.type) {
    case ReplyType::kSimpleString:
      writer->SimpleString(reply.str);
      return;
    case ReplyType::kError:
      writer->Error(reply.str);
      return;
    case ReplyType::kInteger:
      writer->Integer(reply.integer);
      return;
    case ReplyType::kBulkString:
      writer->Bulk(reply.str);
      return;
    case ReplyType::kNull:
      writer->Null();
      return;
    case ReplyType::kDouble:
      writer->Double(reply.number);
      return;
    case ReplyType::kBoolean:
      writer->Boolean(reply.boolean);
      return;
    case ReplyType::kBigNumber:
      writer->BigNumber(reply.str);
      return;
    case ReplyType::kVerbatim:
      writer->Verbatim(reply.str, reply.format);
      return;
    case ReplyType::kArray:
    case ReplyType::kMap:
    case ReplyType::kSet:
    case ReplyType::kPush: {
      auto n = static_cast<int64_t>(reply.elements.size());
      if (reply.type == ReplyType::kArray) writer->ArrayHeader(n);
      if (reply.type == ReplyType::kMap) writer->MapHeader(n / 2);
      if (reply.type == ReplyType::kSet) writer->SetHeader(n);
      if (reply.type == ReplyType::kPush) writer->PushHeader(n);
      for (const Reply& element : reply.elements) WriteReply(element, writer);
      return;
    }
  }
}

}  // namespace tandem::resp
