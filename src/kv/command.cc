#include "kv/command.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "util/name_index.h"

namespace tandem::kv {

Object* CommandContext::Peek(std::string_view key) { return Resolve(key, -1); }

Object* CommandContext::Lookup(std::string_view key) { return Resolve(key, now_ms); }

// One probe of the key table for both (Access stamps no key that has
// expired by touch_ms = now_ms, as the separate touch did not).
Object* CommandContext::Resolve(std::string_view key, int64_t touch_ms) {
  int64_t expire_at;
  Object* o = db.Access(key, &expire_at, touch_ms);
  if (o == nullptr || !IsExpired(expire_at)) return o;
  switch (mode) {
    case ExecMode::kApply:
      return o;  // keys live until a logged DEL
    case ExecMode::kReplicaRead:
      return nullptr;  // hidden, not erased
    case ExecMode::kLeader:
      break;
  }
  db.Erase(key);
  Propagate({"del", std::string(key)});
  return nullptr;
}

bool CommandContext::Exists(std::string_view key) { return Peek(key) != nullptr; }

void CommandContext::Propagate(Argv argv) {
  if (propagating()) propagated_->push_back(std::move(argv));
}

void CommandContext::PropagateAsIs() {
  if (!propagating()) return;
  Argv argv;
  argv.reserve(args.size());
  for (std::string_view a : args) argv.emplace_back(a);
  for (char& c : argv[0]) c = AsciiLower(c);
  propagated_->push_back(std::move(argv));
}

uint64_t CommandContext::Random() {
  // splitmix64
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void CommandContext::ReplyWrongType() {
  reply.Error("WRONGTYPE Operation against a key holding the wrong kind of value");
}
void CommandContext::ReplySyntaxError() { reply.Error("ERR syntax error"); }
void CommandContext::ReplyNotInteger() {
  reply.Error("ERR value is not an integer or out of range");
}
void CommandContext::ReplyNotFloat() { reply.Error("ERR value is not a valid float"); }

namespace {

const std::vector<CommandSpec>& AllSpecs() {
  static const std::vector<CommandSpec> all = [] {
    std::vector<CommandSpec> v;
    for (auto table : {KeyspaceCommands(), StringCommands(), BitCommands(), HashCommands()}) {
      v.insert(v.end(), table.begin(), table.end());
    }
    return v;
  }();
  return all;
}

}  // namespace

const CommandSpec* FindDataCommand(std::string_view name) {
  static const NameIndex<CommandSpec> index = [] {
    NameIndex<CommandSpec> m;
    for (const CommandSpec& spec : AllSpecs()) m.Add(spec.name, &spec);
    return m;
  }();
  return index.Find(name);
}

std::span<const CommandSpec> AllDataCommands() { return AllSpecs(); }

bool ParseInt64(std::string_view s, int64_t* out) {
  // Redis's string2ll: no spaces, no '+', no leading zeros, no "-0".
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

namespace {

// Common shape of Redis's getDoubleFromObject / string2ld: the whole string
// must parse, no leading space, no NaN, no overflow.
template <typename T, typename Fn>
bool ParseFloating(std::string_view s, T* out, Fn strto) {
  if (s.empty() || s.size() > 5000 || std::isspace(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  std::string buf(s);
  if (buf.find('\0') != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  T v = strto(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) return false;
  if (errno == ERANGE && (std::isinf(v) || v == 0)) return false;
  if (std::isnan(v)) return false;
  *out = v;
  return true;
}

}  // namespace

bool ParseDouble(std::string_view s, double* out) {
  return ParseFloating<double>(s, out, [](const char* p, char** e) { return std::strtod(p, e); });
}

bool ParseLongDouble(std::string_view s, long double* out) {
  return ParseFloating<long double>(s, out,
                                    [](const char* p, char** e) { return std::strtold(p, e); });
}

std::string FormatLongDoubleHuman(long double v) {
  char buf[5 * 1024];
  int len = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (len < 0 || static_cast<size_t>(len) >= sizeof(buf)) return "0";
  std::string_view s(buf, static_cast<size_t>(len));
  if (s.find('.') != std::string_view::npos) {
    while (!s.empty() && s.back() == '0') s.remove_suffix(1);
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  }
  if (s == "-0") return "0";
  return std::string(s);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace tandem::kv
