#include "kv/glob.h"

#include <cctype>
#include <utility>

namespace tandem::kv {
namespace {

constexpr int kMaxNesting = 1000;

int Fold(int c, bool nocase) { return nocase ? std::tolower(c & 0xff) : c; }

// Bytes compare as signed chars in ranges, as in Redis on x86.
int Byte(char c) { return static_cast<int>(static_cast<signed char>(c)); }

bool MatchImpl(const char* p, size_t plen, const char* s, size_t slen, bool nocase,
               bool* skip_longer, int nesting) {
  if (nesting > kMaxNesting) return false;
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*': {
        while (plen >= 2 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (MatchImpl(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1)) return true;
          // The rest could not match even the longest tail: shorter tails
          // cannot either.
          if (*skip_longer) return false;
          ++s;
          --slen;
        }
        *skip_longer = true;
        return false;
      }
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool match = false;
        while (true) {
          if (plen >= 2 && p[0] == '\\') {
            ++p;
            --plen;
            if (Fold(Byte(p[0]), nocase) == Fold(Byte(s[0]), nocase)) match = true;
          } else if (plen == 0) {
            // Unterminated class: step back so the advance below lands at
            // the end of the pattern.
            --p;
            ++plen;
            break;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            int start = Byte(p[0]), end = Byte(p[2]), c = Byte(s[0]);
            if (start > end) std::swap(start, end);
            if (nocase) {
              start = std::tolower(start & 0xff);
              end = std::tolower(end & 0xff);
              c = std::tolower(c & 0xff);
            }
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) match = true;
          } else if (Fold(Byte(p[0]), nocase) == Fold(Byte(s[0]), nocase)) {
            match = true;
          }
          ++p;
          --plen;
        }
        if (negate) match = !match;
        if (!match) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (Fold(Byte(p[0]), nocase) != Fold(Byte(s[0]), nocase)) return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  bool skip_longer = false;
  return MatchImpl(pattern.data(), pattern.size(), text.data(), text.size(), nocase, &skip_longer,
                   0);
}

}  // namespace tandem::kv
