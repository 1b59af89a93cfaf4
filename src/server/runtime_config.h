// RuntimeConfig: the parameters CONFIG GET / CONFIG SET see.
//
// Redis users and client libraries read and set many parameters; Tandem
// accepts every one of them so tools keep working. Each parameter is one of:
//  - live: Tandem honours the value (requirepass, appendfsync, hz, ...);
//    a setter hook applies it.
//  - stored: accepted, validated and stored, but it changes nothing in
//    Tandem (e.g. maxmemory-policy); docs/configuration.md lists them.
//  - immutable: readable, and CONFIG SET refuses it as Redis does.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"
#include "util/status.h"

namespace tandem::server {

class RuntimeConfig {
 public:
  enum class Kind { kBool, kInt, kMemory, kEnum, kString };
  enum class Effect { kLive, kStored, kImmutable };

  struct Param {
    std::string name;
    Kind kind;
    Effect effect;
    std::string value;                      // canonical form, as CONFIG GET shows it
    std::vector<std::string> enum_values;   // kEnum only
    int64_t min = INT64_MIN, max = INT64_MAX;  // kInt / kMemory
  };
  // Called with the canonical value before a live parameter changes; a
  // non-OK status rejects the change.
  using Hook = std::function<Status(const std::string& value)>;

  RuntimeConfig();

  // Sets a parameter's value as loaded at start-up (no validation hooks).
  void Seed(std::string_view name, std::string value);
  void SetHook(std::string_view name, Hook hook);

  // All (name, value) pairs whose name matches any of the glob patterns.
  std::vector<std::pair<std::string, std::string>> Get(
      const std::vector<std::string_view>& patterns) const;
  // Applies name/value pairs atomically: all are validated first; if any is
  // unknown, immutable or invalid, nothing changes. The error text follows
  // Redis 7: "ERR Unknown option or number of arguments for CONFIG SET -
  // 'x'" / "ERR CONFIG SET failed (possibly related to argument 'x') - ...".
  Status Set(const std::vector<std::pair<std::string_view, std::string_view>>& pairs);
  const std::string* Value(std::string_view name) const;
  const std::map<std::string, Param, std::less<>>& params() const { return params_; }

 private:
  void Add(Param p);
  void Alias(std::string alias, std::string target);
  Result<std::string> Canonicalize(const Param& p, std::string_view value) const;

  std::map<std::string, Param, std::less<>> params_;
  std::map<std::string, std::string, std::less<>> aliases_;
  std::map<std::string, Hook, std::less<>> hooks_;
};

// Parses a Redis memory value ("100mb", "1gb", "512", "4k"), false on error.
bool ParseMemory(std::string_view s, int64_t* out);

}  // namespace tandem::server
