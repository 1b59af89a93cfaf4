// The RESP2 text of common replies, for comparing against what
// CommandHarness::Run returns in the kv command tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::kv::testing {

inline std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
inline std::string Int(int64_t v) { return ":" + std::to_string(v) + "\r\n"; }
inline std::string Err(std::string_view msg) { return "-" + std::string(msg) + "\r\n"; }

inline const std::string kOk = "+OK\r\n";
inline const std::string kNil = "$-1\r\n";
inline const std::string kWrongType =
    Err("WRONGTYPE Operation against a key holding the wrong kind of value");
inline const std::string kSyntax = Err("ERR syntax error");
inline const std::string kNotInt = Err("ERR value is not an integer or out of range");

}  // namespace tandem::kv::testing
