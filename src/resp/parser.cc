#include "resp/parser.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "resp/number_parsing.h"

namespace tandem::resp {
namespace {

constexpr size_t kNotFound = std::string::npos;
// A buffer grown beyond this is released once it holds no pending bytes.
constexpr size_t kShrinkThreshold = 1024 * 1024;

constexpr std::string_view kTooBigInline = "ERR Protocol error: too big inline request";
constexpr std::string_view kUnbalancedQuotes = "ERR Protocol error: unbalanced quotes in request";
constexpr std::string_view kTooBigMultibulkCount = "ERR Protocol error: too big mbulk count string";
constexpr std::string_view kInvalidMultibulkLength = "ERR Protocol error: invalid multibulk length";
constexpr std::string_view kUnauthenticatedMultibulkLength =
    "ERR Protocol error: unauthenticated multibulk length";
constexpr std::string_view kTooBigBulkCount = "ERR Protocol error: too big bulk count string";
constexpr std::string_view kInvalidBulkLength = "ERR Protocol error: invalid bulk length";
constexpr std::string_view kUnauthenticatedBulkLength =
    "ERR Protocol error: unauthenticated bulk length";

// C's isspace() in the "C" locale, which sdssplitargs uses to skip blanks.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* args) {
  args->clear();
  // sdssplitargs works on a C string: a NUL byte ends the line.
  size_t nul = line.find('\0');
  if (nul != std::string_view::npos) line = line.substr(0, nul);
  // at(i) mimics reading the C string: '\0' past the end.
  auto at = [&line](size_t i) -> char { return i < line.size() ? line[i] : '\0'; };

  size_t p = 0;
  for (;;) {
    while (p < line.size() && IsBlank(line[p])) ++p;
    if (p >= line.size()) return true;

    std::string current;
    bool in_double_quotes = false;
    bool in_single_quotes = false;
    bool done = false;
    while (!done) {
      char c = at(p);
      if (in_double_quotes) {
        if (c == '\\' && at(p + 1) == 'x' && IsHexDigit(at(p + 2)) && IsHexDigit(at(p + 3))) {
          current.push_back(
              static_cast<char>(HexDigitValue(at(p + 2)) * 16 + HexDigitValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (at(p)) {
            case 'n':
              current.push_back('\n');
              break;
            case 'r':
              current.push_back('\r');
              break;
            case 't':
              current.push_back('\t');
              break;
            case 'b':
              current.push_back('\b');
              break;
            case 'a':
              current.push_back('\a');
              break;
            default:
              current.push_back(at(p));
              break;
          }
        } else if (c == '"') {
          // A closing quote must be followed by a blank or the end.
          if (at(p + 1) != '\0' && !IsBlank(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated quotes
        } else {
          current.push_back(c);
        }
      } else if (in_single_quotes) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !IsBlank(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double_quotes = true;
            break;
          case '\'':
            in_single_quotes = true;
            break;
          default:
            current.push_back(c);
            break;
        }
      }
      if (at(p) != '\0') ++p;
    }
    args->push_back(std::move(current));
  }
}

RequestParser::RequestParser(RequestParserOptions options) : options_(options) {}

std::span<char> RequestParser::PrepareRead(size_t min_bytes) {
  min_bytes = std::max<size_t>(min_bytes, 1);
  if (buffer_.size() - end_ < min_bytes) {
    Compact();
    if (buffer_.size() - end_ < min_bytes) {
      // Geometric growth keeps appends amortised O(1).
      buffer_.resize(std::max(end_ + min_bytes, buffer_.size() + buffer_.size() / 2));
    }
  }
  return std::span<char>(buffer_.data() + end_, buffer_.size() - end_);
}

void RequestParser::CommitRead(size_t n) { end_ += std::min(n, buffer_.size() - end_); }

void RequestParser::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::span<char> space = PrepareRead(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  CommitRead(bytes.size());
}

void RequestParser::Compact() {
  inline_storage_.clear();
  size_t shift = command_start_;
  if (shift > 0) {
    std::memmove(buffer_.data(), buffer_.data() + shift, end_ - shift);
    end_ -= shift;
    pos_ -= shift;
    scan_pos_ -= std::min(scan_pos_, shift);
    command_start_ = 0;
    for (ArgSpan& arg : pending_args_) arg.offset -= shift;
  }
  if (end_ == 0 && buffer_.size() > kShrinkThreshold) {
    std::string().swap(buffer_);
  }
}

void RequestParser::Reset() {
  std::string().swap(buffer_);
  end_ = command_start_ = pos_ = scan_pos_ = 0;
  state_ = State::kCommandStart;
  args_remaining_ = bulk_len_ = 0;
  pending_args_.clear();
  inline_storage_.clear();
  error_.clear();
}

size_t RequestParser::BytesNeededHint() const {
  if (has_error() || state_ != State::kBulkBody) return 0;
  size_t frame = static_cast<size_t>(bulk_len_) + 2;
  size_t have = end_ - pos_;
  return have >= frame ? 0 : frame - have;
}

size_t RequestParser::ReadSizeHint() const {
  size_t needed = BytesNeededHint();
  if (needed <= kDefaultReadSize) return kDefaultReadSize;
  // Grow with what the client has actually sent, not what it announced.
  size_t received = end_ - command_start_;
  return std::max(kDefaultReadSize, std::min(needed, received));
}

size_t RequestParser::FindFromScan(char terminator) {
  size_t from = std::max(scan_pos_, pos_);
  if (from < end_) {
    const void* hit = std::memchr(buffer_.data() + from, terminator, end_ - from);
    if (hit != nullptr) return static_cast<size_t>(static_cast<const char*>(hit) - buffer_.data());
  }
  scan_pos_ = end_;
  return kNotFound;
}

RequestParser::Step RequestParser::Fail(std::string message) {
  error_ = std::move(message);
  return Step::kError;
}

void RequestParser::FinishCommand() {
  command_start_ = pos_;
  scan_pos_ = pos_;
  state_ = State::kCommandStart;
  args_remaining_ = 0;
  bulk_len_ = 0;
  pending_args_.clear();
}

RequestParser::Outcome RequestParser::Next(std::vector<std::string_view>* args) {
  args->clear();
  if (has_error()) return Outcome::kError;
  for (;;) {
    Step step = Step::kProgress;
    switch (state_) {
      case State::kCommandStart:
        if (pos_ >= end_) return Outcome::kNeedMore;
        if (buffer_[pos_] == '*') {
          step = ParseMultibulkHeader();
        } else {
          step = ParseInline(args);
          if (step == Step::kProgress && !args->empty()) return Outcome::kCommand;
        }
        break;
      case State::kBulkHeader:
        step = ParseBulkHeader();
        break;
      case State::kBulkBody:
        step = ParseBulkBody();
        if (step == Step::kProgress && args_remaining_ == 0) {
          args->reserve(pending_args_.size());
          for (const ArgSpan& arg : pending_args_) {
            args->emplace_back(buffer_.data() + arg.offset, arg.length);
          }
          FinishCommand();
          return Outcome::kCommand;
        }
        break;
    }
    if (step == Step::kNeedMore) return Outcome::kNeedMore;
    if (step == Step::kError) return Outcome::kError;
  }
}

RequestParser::Step RequestParser::ParseInline(std::vector<std::string_view>* args) {
  size_t newline = FindFromScan('\n');
  // The 64 KiB limit applies to the line whatever the read boundaries were,
  // so a request parses the same however it is split.
  if (newline == kNotFound) {
    return end_ - pos_ > kMaxInlineRequestSize ? Fail(std::string(kTooBigInline)) : Step::kNeedMore;
  }
  if (newline - pos_ > kMaxInlineRequestSize) return Fail(std::string(kTooBigInline));
  size_t line_end = newline;
  if (line_end > pos_ && buffer_[line_end - 1] == '\r') --line_end;

  std::vector<std::string> tokens;
  if (!SplitInlineArgs(std::string_view(buffer_.data() + pos_, line_end - pos_), &tokens)) {
    return Fail(std::string(kUnbalancedQuotes));
  }
  pos_ = newline + 1;
  FinishCommand();
  for (std::string& token : tokens) {
    inline_storage_.push_back(std::move(token));
    args->push_back(inline_storage_.back());
  }
  return Step::kProgress;  // an empty line yields no args and is skipped
}

RequestParser::Step RequestParser::ParseMultibulkHeader() {
  size_t cr = FindFromScan('\r');
  if (cr == kNotFound) {
    return end_ - pos_ > kMaxInlineRequestSize ? Fail(std::string(kTooBigMultibulkCount))
                                               : Step::kNeedMore;
  }
  if (cr - pos_ > kMaxInlineRequestSize) return Fail(std::string(kTooBigMultibulkCount));
  // Like Redis, wait for the byte after '\r' (assumed to be '\n', not checked).
  if (cr + 1 >= end_) return Step::kNeedMore;

  int64_t count = 0;
  if (!ParseStrictInt64(std::string_view(buffer_.data() + pos_ + 1, cr - pos_ - 1), &count) ||
      count > kMaxMultibulkLen) {
    return Fail(std::string(kInvalidMultibulkLength));
  }
  if (options_.require_auth && count > kMaxUnauthenticatedMultibulkLen) {
    return Fail(std::string(kUnauthenticatedMultibulkLength));
  }
  pos_ = cr + 2;
  scan_pos_ = pos_;
  if (count <= 0) {
    FinishCommand();  // "*0" and "*-1" are empty commands, skipped
    return Step::kProgress;
  }
  args_remaining_ = count;
  // Never reserve by the announced count beyond a small bound.
  pending_args_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
  state_ = State::kBulkHeader;
  return Step::kProgress;
}

RequestParser::Step RequestParser::ParseBulkHeader() {
  size_t cr = FindFromScan('\r');
  if (cr == kNotFound) {
    return end_ - pos_ > kMaxInlineRequestSize ? Fail(std::string(kTooBigBulkCount))
                                               : Step::kNeedMore;
  }
  if (cr - pos_ > kMaxInlineRequestSize) return Fail(std::string(kTooBigBulkCount));
  if (cr + 1 >= end_) return Step::kNeedMore;

  if (buffer_[pos_] != '$') {
    std::string message = "ERR Protocol error: expected '$', got '";
    // Redis's addReplyErrorFormat turns CR and LF into spaces.
    char found = buffer_[pos_];
    message.push_back(found == '\r' || found == '\n' ? ' ' : found);
    message.push_back('\'');
    return Fail(std::move(message));
  }
  int64_t length = 0;
  if (!ParseStrictInt64(std::string_view(buffer_.data() + pos_ + 1, cr - pos_ - 1), &length) ||
      length < 0 || length > options_.max_bulk_len) {
    return Fail(std::string(kInvalidBulkLength));
  }
  if (options_.require_auth && length > kMaxUnauthenticatedBulkLen) {
    return Fail(std::string(kUnauthenticatedBulkLength));
  }
  pos_ = cr + 2;
  scan_pos_ = pos_;
  bulk_len_ = length;
  state_ = State::kBulkBody;
  return Step::kProgress;
}

RequestParser::Step RequestParser::ParseBulkBody() {
  // The payload is followed by two bytes that Redis skips without checking
  // that they are "\r\n"; so do we, to accept exactly what Redis accepts.
  size_t frame = static_cast<size_t>(bulk_len_) + 2;
  if (end_ - pos_ < frame) return Step::kNeedMore;
  pending_args_.push_back(ArgSpan{pos_, static_cast<size_t>(bulk_len_)});
  pos_ += frame;
  scan_pos_ = pos_;
  --args_remaining_;
  state_ = State::kBulkHeader;
  return Step::kProgress;
}

}  // namespace tandem::resp
