// Helpers shared by the string and bit command groups: typed lookup, Redis's
// range normalisation, the string size limit, and the LCS computation.
// Header-only so the kv library's source list needs no entry for it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/command.h"
#include "util/result.h"
#include "util/status.h"

namespace tandem::kv {

// Redis's proto-max-bulk-len default: no string value may grow past it.
inline constexpr uint64_t kMaxStringLength = 512ull * 1024 * 1024;
inline constexpr std::string_view kStringTooLongError =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

// Whether a string of `size` bytes grown by `extra` bytes stays within
// kMaxStringLength (no overflow for any inputs).
inline bool FitsStringLimit(uint64_t size, uint64_t extra) {
  return size <= kMaxStringLength && extra <= kMaxStringLength - size;
}

// Looks up a key that must hold a string (through ctx.Lookup, so lazy
// expiry applies). Returns false after replying WRONGTYPE when the key holds
// another type; otherwise *out is the object, nullptr when the key is absent.
inline bool LookupString(CommandContext& ctx, std::string_view key, Object** out) {
  Object* o = ctx.Lookup(key);
  if (o != nullptr && !o->is_string()) {
    ctx.ReplyWrongType();
    return false;
  }
  *out = o;
  return true;
}

// An inclusive range of positions [first, last] with first <= last.
struct ByteRange {
  int64_t first;
  int64_t last;
};

// Normalises a user's inclusive [start, end] over a sequence of `length`
// positions the way GETRANGE, BITCOUNT and BITPOS do: negative indexes count
// from the end, both are clamped into the sequence. nullopt when the range
// is empty. With `reject_reversed_negatives` (GETRANGE, BITCOUNT), two
// negative indexes with start > end are empty before clamping, as in Redis.
inline std::optional<ByteRange> ClampRange(int64_t start, int64_t end, int64_t length,
                                           bool reject_reversed_negatives = true) {
  if (reject_reversed_negatives && start < 0 && end < 0 && start > end) return std::nullopt;
  if (start < 0) start += length;
  if (end < 0) end += length;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= length) end = length - 1;
  if (length == 0 || start > end) return std::nullopt;
  return ByteRange{start, end};
}

// One run of consecutive common bytes found by LCS ... IDX: positions
// a_start..a_end in the first string match b_start..b_end in the second.
struct LcsMatch {
  int64_t a_start, a_end;
  int64_t b_start, b_end;
};

struct LcsResult {
  uint64_t length = 0;            // length of the longest common subsequence
  std::string text;               // the subsequence itself
  std::vector<LcsMatch> matches;  // runs of at least min_match_len, from the end
};

// The longest common subsequence of a and b by dynamic programming, walked
// back the way Redis 7.0 does so the text and the reported runs are the same
// as Redis's. Fails (InvalidArgument, with Redis's message after "ERR ") when
// the (|a|+1)*(|b|+1) table of 32-bit cells would exceed kMaxStringLength.
inline Result<LcsResult> ComputeLcs(std::string_view a, std::string_view b,
                                    uint64_t min_match_len) {
  if (a.size() >= UINT32_MAX - 1 || b.size() >= UINT32_MAX - 1) {
    return Status::InvalidArgument("String too long for LCS");
  }
  const uint64_t rows = a.size() + 1;
  const uint64_t cols = b.size() + 1;
  if (rows * cols > kMaxStringLength / sizeof(uint32_t)) {
    return Status::InvalidArgument(
        "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  // table[i * cols + j] = LCS length of a[0..i) and b[0..j).
  std::vector<uint32_t> table(rows * cols, 0);
  auto at = [&](uint64_t i, uint64_t j) -> uint32_t& { return table[i * cols + j]; };
  for (uint64_t i = 1; i < rows; ++i) {
    for (uint64_t j = 1; j < cols; ++j) {
      if (a[i - 1] == b[j - 1]) {
        at(i, j) = at(i - 1, j - 1) + 1;
      } else {
        at(i, j) = std::max(at(i - 1, j), at(i, j - 1));
      }
    }
  }

  LcsResult result;
  result.length = at(rows - 1, cols - 1);
  result.text.assign(result.length, '\0');
  uint64_t remaining = result.length;
  // The run being tracked, walking backwards; `open` when one is started.
  bool open = false;
  LcsMatch run{};
  uint64_t i = a.size(), j = b.size();
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      result.text[--remaining] = a[i - 1];
      const int64_t ai = static_cast<int64_t>(i - 1), bj = static_cast<int64_t>(j - 1);
      if (!open) {
        run = {ai, ai, bj, bj};
        open = true;
      } else if (run.a_start == ai + 1 && run.b_start == bj + 1) {
        run.a_start = ai;  // extends the run backwards
        run.b_start = bj;
      } else {
        emit = true;
      }
      if (run.a_start == 0 || run.b_start == 0) emit = true;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (open) emit = true;
    }
    if (emit) {
      const uint64_t run_len = static_cast<uint64_t>(run.a_end - run.a_start + 1);
      if (run_len >= min_match_len) result.matches.push_back(run);
      open = false;
    }
  }
  return result;
}

}  // namespace tandem::kv
