// Strict decimal integer parsing with Redis's string2ll rules, shared by the
// request and reply parsers.
#pragma once

#include <cstdint>
#include <string_view>

namespace tandem::resp {

// Parses `text` as a signed 64-bit decimal exactly as Redis's string2ll:
// an optional '-', then digits with no leading zero ("0" alone is allowed,
// "-0", "00", "+1", " 1" are not), at most 20 characters, no overflow.
// Returns false (leaving *out unspecified) when the text is not accepted.
bool ParseStrictInt64(std::string_view text, int64_t* out);

}  // namespace tandem::resp
