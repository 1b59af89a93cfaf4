#include "resp/number_parsing.h"

#include <cstdint>
#include <limits>

namespace tandem::resp {

bool ParseStrictInt64(std::string_view text, int64_t* out) {
  // Redis refuses empty strings and strings of LONG_STR_SIZE (21) or more.
  if (text.empty() || text.size() >= 21) return false;
  if (text == "0") {
    *out = 0;
    return true;
  }
  bool negative = false;
  size_t i = 0;
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (text.size() == 1) return false;
  }
  if (text[i] < '1' || text[i] > '9') return false;
  uint64_t magnitude = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMaxPositive + 1) return false;
    // -(2^63) does not fit in a positive int64 first: build it via unsigned.
    *out = static_cast<int64_t>(0 - magnitude);
  } else {
    if (magnitude > kMaxPositive) return false;
    *out = static_cast<int64_t>(magnitude);
  }
  return true;
}

}  // namespace tandem::resp
