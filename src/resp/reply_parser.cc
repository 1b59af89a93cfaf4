#include "resp/reply_parser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "resp/number_parsing.h"

namespace tandem::resp {
namespace {

enum class Outcome { kOk, kIncomplete, kError };

// One parse attempt over an immutable input.
class ReplyCursor {
 public:
  ReplyCursor(std::string_view input, const ReplyParserLimits& limits)
      : input_(input), limits_(limits) {}

  Outcome ParseValue(Reply* out, int depth);
  size_t position() const { return pos_; }
  // When incomplete: the input size needed before a retry can progress.
  size_t needed() const { return needed_; }
  const std::string& error() const { return error_; }

 private:
  Outcome ReadLine(std::string_view* line);
  Outcome ReadBlob(std::string_view header, std::string* out);
  Outcome ParseAggregate(char type, std::string_view header, Reply* out, int depth);
  Outcome Incomplete(size_t needed) {
    needed_ = needed;
    return Outcome::kIncomplete;
  }
  Outcome Fail(std::string message) {
    error_ = "RESP reply: " + std::move(message);
    return Outcome::kError;
  }

  std::string_view input_;
  const ReplyParserLimits& limits_;
  size_t pos_ = 0;
  size_t needed_ = 0;
  std::string error_;
};

Outcome ReplyCursor::ReadLine(std::string_view* line) {
  size_t cr = input_.find('\r', pos_);
  if (cr == std::string_view::npos) return Incomplete(input_.size() + 1);
  if (cr + 1 >= input_.size()) return Incomplete(cr + 2);
  if (input_[cr + 1] != '\n') return Fail("line not ended by CRLF");
  *line = input_.substr(pos_, cr - pos_);
  pos_ = cr + 2;
  return Outcome::kOk;
}

Outcome ReplyCursor::ReadBlob(std::string_view header, std::string* out) {
  int64_t length = 0;
  if (!ParseStrictInt64(header, &length) || length < 0) return Fail("invalid length");
  if (length > limits_.max_bulk_len) return Fail("length over the limit");
  size_t end = pos_ + static_cast<size_t>(length);
  if (input_.size() < end + 2) return Incomplete(end + 2);
  if (input_[end] != '\r' || input_[end + 1] != '\n') return Fail("payload not ended by CRLF");
  out->assign(input_.substr(pos_, static_cast<size_t>(length)));
  pos_ = end + 2;
  return Outcome::kOk;
}

Outcome ReplyCursor::ParseAggregate(char type, std::string_view header, Reply* out, int depth) {
  if (header == "?") return Fail("streamed aggregates are not supported");
  int64_t count = 0;
  if (!ParseStrictInt64(header, &count) || count < 0) return Fail("invalid aggregate length");
  if (count > limits_.max_aggregate_len) return Fail("aggregate length over the limit");
  if (depth >= limits_.max_depth) return Fail("nesting too deep");
  bool pairs = type == '%' || type == '|';
  auto elements = static_cast<uint64_t>(count) * (pairs ? 2 : 1);
  std::vector<Reply> items;
  items.reserve(static_cast<size_t>(std::min<uint64_t>(elements, 1024)));
  for (uint64_t i = 0; i < elements; ++i) {
    Reply item;
    Outcome outcome = ParseValue(&item, depth + 1);
    if (outcome != Outcome::kOk) return outcome;
    items.push_back(std::move(item));
  }
  if (type == '|') {
    // Attributes describe the reply that follows them.
    Outcome outcome = ParseValue(out, depth + 1);
    if (outcome != Outcome::kOk) return outcome;
    out->attributes = std::move(items);
    return Outcome::kOk;
  }
  switch (type) {
    case '*':
      out->type = ReplyType::kArray;
      break;
    case '%':
      out->type = ReplyType::kMap;
      break;
    case '~':
      out->type = ReplyType::kSet;
      break;
    default:
      out->type = ReplyType::kPush;
      break;
  }
  out->elements = std::move(items);
  return Outcome::kOk;
}

Outcome ReplyCursor::ParseValue(Reply* out, int depth) {
  *out = Reply();
  if (pos_ >= input_.size()) return Incomplete(pos_ + 1);
  char type = input_[pos_++];
  std::string_view line;
  Outcome outcome = ReadLine(&line);
  if (outcome != Outcome::kOk) return outcome;

  switch (type) {
    case '+':
      out->type = ReplyType::kSimpleString;
      out->str.assign(line);
      return Outcome::kOk;
    case '-':
      out->type = ReplyType::kError;
      out->str.assign(line);
      return Outcome::kOk;
    case ':':
      out->type = ReplyType::kInteger;
      if (!ParseStrictInt64(line, &out->integer)) return Fail("invalid integer");
      return Outcome::kOk;
    case '$':
      if (line == "-1") return Outcome::kOk;  // RESP2 null bulk
      if (line == "?") return Fail("streamed strings are not supported");
      out->type = ReplyType::kBulkString;
      return ReadBlob(line, &out->str);
    case '!':
      out->type = ReplyType::kError;
      return ReadBlob(line, &out->str);
    case '=': {
      out->type = ReplyType::kVerbatim;
      std::string payload;
      outcome = ReadBlob(line, &payload);
      if (outcome != Outcome::kOk) return outcome;
      if (payload.size() < 4 || payload[3] != ':') return Fail("verbatim string without format");
      out->format = payload.substr(0, 3);
      out->str = payload.substr(4);
      return Outcome::kOk;
    }
    case '*':
      if (line == "-1") return Outcome::kOk;  // RESP2 null array
      return ParseAggregate(type, line, out, depth);
    case '%':
    case '~':
    case '>':
    case '|':
      return ParseAggregate(type, line, out, depth);
    case '_':
      if (!line.empty()) return Fail("null with a payload");
      return Outcome::kOk;
    case '#':
      out->type = ReplyType::kBoolean;
      if (line == "t") {
        out->boolean = true;
      } else if (line != "f") {
        return Fail("invalid boolean");
      }
      return Outcome::kOk;
    case ',': {
      out->type = ReplyType::kDouble;
      out->str.assign(line);
      if (line == "inf" || line == "+inf") {
        out->number = HUGE_VAL;
      } else if (line == "-inf") {
        out->number = -HUGE_VAL;
      } else if (line == "nan" || line == "-nan") {
        out->number = std::nan("");
      } else {
        // strtod also takes hex floats and "infinity": refuse what RESP3 does
        // not define by requiring a decimal digit first (after a sign).
        size_t first = (!line.empty() && (line[0] == '-' || line[0] == '+')) ? 1 : 0;
        bool digit_or_point = first < line.size() &&
                              ((line[first] >= '0' && line[first] <= '9') || line[first] == '.');
        if (!digit_or_point || line.find_first_of("xX") != std::string_view::npos) {
          return Fail("invalid double");
        }
        char* end = nullptr;
        out->number = std::strtod(out->str.c_str(), &end);
        if (end != out->str.c_str() + out->str.size()) return Fail("invalid double");
      }
      return Outcome::kOk;
    }
    case '(': {
      out->type = ReplyType::kBigNumber;
      size_t first = (!line.empty() && line[0] == '-') ? 1 : 0;
      if (first >= line.size()) return Fail("invalid big number");
      for (size_t i = first; i < line.size(); ++i) {
        if (line[i] < '0' || line[i] > '9') return Fail("invalid big number");
      }
      out->str.assign(line);
      return Outcome::kOk;
    }
    default: {
      std::string message = "unknown type byte 0x";
      const char* hex = "0123456789abcdef";
      auto byte = static_cast<unsigned char>(type);
      message.push_back(hex[byte >> 4]);
      message.push_back(hex[byte & 15]);
      return Fail(std::move(message));
    }
  }
}

}  // namespace

Result<size_t> ParseReply(std::string_view input, Reply* out, const ReplyParserLimits& limits) {
  ReplyCursor cursor(input, limits);
  switch (cursor.ParseValue(out, 0)) {
    case Outcome::kOk:
      return cursor.position();
    case Outcome::kIncomplete:
      return size_t{0};
    case Outcome::kError:
      break;
  }
  return Status::Corruption(cursor.error());
}

void ReplyReader::Append(std::string_view bytes) {
  // Drop consumed bytes before growing, so the buffer holds one reply's worth.
  if (pos_ > 0 && (pos_ == buffer_.size() || pos_ >= buffer_.size() / 2)) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

Result<bool> ReplyReader::Next(Reply* out) {
  if (!error_.ok()) return error_;
  if (buffered_bytes() < min_needed_) return false;
  std::string_view pending(buffer_.data() + pos_, buffer_.size() - pos_);
  ReplyCursor cursor(pending, limits_);
  switch (cursor.ParseValue(out, 0)) {
    case Outcome::kOk:
      pos_ += cursor.position();
      min_needed_ = 1;
      return true;
    case Outcome::kIncomplete:
      min_needed_ = std::max<size_t>(cursor.needed(), 1);
      return false;
    case Outcome::kError:
      break;
  }
  error_ = Status::Corruption(cursor.error());
  return error_;
}

}  // namespace tandem::resp
