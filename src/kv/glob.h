// Glob-style pattern matching with exactly Redis's rules (stringmatchlen):
// KEYS, SCAN/HSCAN MATCH, and the server's CONFIG GET patterns.
//   *      any run of bytes, including none
//   ?      any one byte
//   [abc]  one of the listed bytes; [^abc] none of them; [a-z] a range
//          (ends in either order); \x inside brackets is a literal x;
//          an unterminated [ ends the class at the end of the pattern
//   \x     the literal byte x
#pragma once

#include <string_view>

namespace tandem::kv {

// True when `text` matches `pattern`. nocase compares ASCII letters
// case-insensitively. Runs in time polynomial in the lengths (never
// exponential), and gives up (false) past 1000 nested stars.
bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace tandem::kv
