#include "server/runtime_config.h"

#include <algorithm>
#include <charconv>

#include "kv/glob.h"
#include "util/name_index.h"

namespace tandem::server {
namespace {

using K = RuntimeConfig::Kind;
using E = RuntimeConfig::Effect;

}  // namespace

bool ParseMemory(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  std::string lower = AsciiLower(s);
  int64_t mul = 1;
  auto ends = [&](std::string_view suffix) {
    return lower.size() > suffix.size() &&
           std::string_view(lower).substr(lower.size() - suffix.size()) == suffix;
  };
  size_t cut = 0;
  if (ends("kb")) mul = 1024, cut = 2;
  else if (ends("mb")) mul = 1024 * 1024, cut = 2;
  else if (ends("gb")) mul = 1024LL * 1024 * 1024, cut = 2;
  else if (ends("k")) mul = 1000, cut = 1;
  else if (ends("m")) mul = 1000 * 1000, cut = 1;
  else if (ends("g")) mul = 1000LL * 1000 * 1000, cut = 1;
  std::string_view digits = std::string_view(lower).substr(0, lower.size() - cut);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return false;
  if (v != 0 && (v > INT64_MAX / mul || v < INT64_MIN / mul)) return false;
  *out = v * mul;
  return true;
}

RuntimeConfig::RuntimeConfig() {
  auto b = [&](const char* n, bool v, E e) { Add({n, K::kBool, e, v ? "yes" : "no", {}}); };
  auto i = [&](const char* n, int64_t v, E e, int64_t lo = INT64_MIN, int64_t hi = INT64_MAX) {
    Add({n, K::kInt, e, std::to_string(v), {}, lo, hi});
  };
  auto m = [&](const char* n, int64_t v, E e) { Add({n, K::kMemory, e, std::to_string(v), {}, 0}); };
  auto en = [&](const char* n, const char* v, std::vector<std::string> vals, E e) {
    Add({n, K::kEnum, e, v, std::move(vals)});
  };
  auto s = [&](const char* n, const char* v, E e) { Add({n, K::kString, e, v, {}}); };

  // Honoured by Tandem.
  s("requirepass", "", E::kLive);
  en("appendfsync", "always", {"always", "everysec", "no"}, E::kLive);
  i("hz", 10, E::kLive, 1, 500);
  m("proto-max-bulk-len", 512LL * 1024 * 1024, E::kLive);
  i("maxclients", 10000, E::kLive, 1, 1000000);
  en("loglevel", "notice", {"debug", "verbose", "notice", "warning", "nothing"}, E::kLive);
  // Fixed by Tandem's design or start-up flags.
  i("databases", 1, E::kImmutable);
  i("port", 6379, E::kImmutable);
  s("bind", "127.0.0.1", E::kImmutable);
  s("dir", "./tandem-data", E::kImmutable);
  b("appendonly", true, E::kImmutable);
  b("cluster-enabled", false, E::kImmutable);
  b("daemonize", false, E::kImmutable);
  s("logfile", "", E::kImmutable);
  s("pidfile", "", E::kImmutable);
  i("io-threads", 1, E::kImmutable);
  s("appendfilename", "appendonly.aof", E::kImmutable);
  s("appenddirname", "appendonlydir", E::kImmutable);
  // Accepted and stored; no effect in Tandem (docs/configuration.md).
  s("save", "", E::kStored);
  s("dbfilename", "dump.rdb", E::kStored);
  m("maxmemory", 0, E::kStored);
  en("maxmemory-policy", "noeviction",
     {"volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random",
      "allkeys-random", "volatile-ttl", "noeviction"},
     E::kStored);
  i("maxmemory-samples", 5, E::kStored, 1, 64);
  i("maxmemory-eviction-tenacity", 10, E::kStored, 0, 100);
  i("timeout", 0, E::kStored, 0);
  i("tcp-keepalive", 300, E::kStored, 0);
  i("tcp-backlog", 511, E::kImmutable);
  s("notify-keyspace-events", "", E::kStored);
  i("slowlog-log-slower-than", 10000, E::kStored);
  i("slowlog-max-len", 128, E::kStored, 0);
  i("latency-monitor-threshold", 0, E::kStored, 0);
  i("latency-tracking", 1, E::kStored, 0, 1);
  s("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    E::kStored);
  m("client-query-buffer-limit", 1024LL * 1024 * 1024, E::kStored);
  b("lazyfree-lazy-eviction", false, E::kStored);
  b("lazyfree-lazy-expire", false, E::kStored);
  b("lazyfree-lazy-server-del", false, E::kStored);
  b("lazyfree-lazy-user-del", false, E::kStored);
  b("lazyfree-lazy-user-flush", false, E::kStored);
  b("replica-lazy-flush", false, E::kStored);
  i("lfu-log-factor", 10, E::kStored, 0);
  i("lfu-decay-time", 1, E::kStored, 0);
  b("activerehashing", true, E::kStored);
  i("active-expire-effort", 1, E::kStored, 1, 10);
  b("protected-mode", true, E::kStored);
  b("replica-read-only", true, E::kStored);
  b("replica-serve-stale-data", true, E::kStored);
  i("min-replicas-to-write", 0, E::kStored, 0);
  i("min-replicas-max-lag", 10, E::kStored, 0);
  m("repl-backlog-size", 1024 * 1024, E::kStored);
  i("repl-backlog-ttl", 3600, E::kStored, 0);
  i("repl-timeout", 60, E::kStored, 1);
  i("lua-time-limit", 5000, E::kStored);
  i("busy-reply-threshold", 5000, E::kStored);
  i("hash-max-listpack-entries", 128, E::kStored, 0);
  i("hash-max-listpack-value", 64, E::kStored, 0);
  i("set-max-intset-entries", 512, E::kStored, 0);
  i("set-max-listpack-entries", 128, E::kStored, 0);
  i("set-max-listpack-value", 64, E::kStored, 0);
  i("zset-max-listpack-entries", 128, E::kStored, 0);
  i("zset-max-listpack-value", 64, E::kStored, 0);
  i("list-max-listpack-size", -2, E::kStored);
  i("list-compress-depth", 0, E::kStored, 0);
  m("stream-node-max-bytes", 4096, E::kStored);
  i("stream-node-max-entries", 100, E::kStored, 0);
  b("stop-writes-on-bgsave-error", true, E::kStored);
  b("rdbcompression", true, E::kStored);
  b("rdbchecksum", true, E::kStored);
  b("no-appendfsync-on-rewrite", false, E::kStored);
  i("auto-aof-rewrite-percentage", 100, E::kStored, 0);
  m("auto-aof-rewrite-min-size", 64LL * 1024 * 1024, E::kStored);
  b("aof-use-rdb-preamble", true, E::kStored);
  en("enable-debug-command", "local", {"no", "yes", "local"}, E::kStored);
  i("tracking-table-max-keys", 1000000, E::kStored, 0);
  b("dynamic-hz", true, E::kStored);
  b("jemalloc-bg-thread", true, E::kStored);
  Alias("hash-max-ziplist-entries", "hash-max-listpack-entries");
  Alias("hash-max-ziplist-value", "hash-max-listpack-value");
  Alias("zset-max-ziplist-entries", "zset-max-listpack-entries");
  Alias("zset-max-ziplist-value", "zset-max-listpack-value");
  Alias("list-max-ziplist-size", "list-max-listpack-size");
  Alias("slave-read-only", "replica-read-only");
  Alias("slave-serve-stale-data", "replica-serve-stale-data");
  Alias("min-slaves-to-write", "min-replicas-to-write");
  Alias("min-slaves-max-lag", "min-replicas-max-lag");
  Alias("lua-time-limit", "busy-reply-threshold");
}

void RuntimeConfig::Add(Param p) {
  std::string name = p.name;
  params_.insert_or_assign(std::move(name), std::move(p));
}

void RuntimeConfig::Alias(std::string alias, std::string target) {
  params_.erase(alias);
  aliases_.emplace(std::move(alias), std::move(target));
}

void RuntimeConfig::Seed(std::string_view name, std::string value) {
  auto it = params_.find(name);
  if (it != params_.end()) it->second.value = std::move(value);
}

void RuntimeConfig::SetHook(std::string_view name, Hook hook) {
  hooks_.insert_or_assign(std::string(name), std::move(hook));
}

const std::string* RuntimeConfig::Value(std::string_view name) const {
  auto a = aliases_.find(name);
  auto it = params_.find(a != aliases_.end() ? std::string_view(a->second) : name);
  return it == params_.end() ? nullptr : &it->second.value;
}

std::vector<std::pair<std::string, std::string>> RuntimeConfig::Get(
    const std::vector<std::string_view>& patterns) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto add_if_match = [&](const std::string& name, const std::string& value) {
    for (auto pattern : patterns) {
      std::string lp = AsciiLower(pattern);
      if (kv::GlobMatch(lp, name, /*nocase=*/true)) {
        for (auto& [n, v] : out) {
          if (n == name) return;
        }
        out.emplace_back(name, value);
        return;
      }
    }
  };
  for (const auto& [name, p] : params_) add_if_match(name, p.value);
  for (const auto& [alias, target] : aliases_) {
    // Redis shows an alias only when asked for it by its exact name.
    for (auto pattern : patterns) {
      if (AsciiLower(pattern) == alias) out.emplace_back(alias, params_.at(target).value);
    }
  }
  return out;
}

Result<std::string> RuntimeConfig::Canonicalize(const Param& p, std::string_view value) const {
  switch (p.kind) {
    case Kind::kBool: {
      std::string v = AsciiLower(value);
      if (v == "yes" || v == "no") return v;
      return Status::InvalidArgument("argument must be 'yes' or 'no'");
    }
    case Kind::kInt: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        return Status::InvalidArgument("argument couldn't be parsed into an integer");
      }
      if (v < p.min || v > p.max) {
        return Status::InvalidArgument("argument must be between " + std::to_string(p.min) +
                                       " and " + std::to_string(p.max) + " inclusive");
      }
      return std::to_string(v);
    }
    case Kind::kMemory: {
      int64_t v = 0;
      if (!ParseMemory(value, &v)) {
        return Status::InvalidArgument("argument must be a memory value");
      }
      if (v < p.min) return Status::InvalidArgument("argument must be a memory value");
      return std::to_string(v);
    }
    case Kind::kEnum: {
      std::string v = AsciiLower(value);
      if (std::find(p.enum_values.begin(), p.enum_values.end(), v) != p.enum_values.end()) {
        return v;
      }
      return Status::InvalidArgument("argument(s) must be one of the following: " + [&] {
        std::string all;
        for (auto& e : p.enum_values) all += (all.empty() ? "" : ", ") + e;
        return all;
      }());
    }
    case Kind::kString:
      return std::string(value);
  }
  return Status::InvalidArgument("unknown parameter kind");
}

Status RuntimeConfig::Set(const std::vector<std::pair<std::string_view, std::string_view>>& pairs) {
  std::vector<std::pair<Param*, std::string>> staged;
  for (auto [raw_name, raw_value] : pairs) {
    std::string name = AsciiLower(raw_name);
    if (auto a = aliases_.find(name); a != aliases_.end()) name = a->second;
    auto it = params_.find(name);
    if (it == params_.end()) {
      return Status::InvalidArgument("ERR Unknown option or number of arguments for CONFIG SET - '" +
                                     std::string(raw_name) + "'");
    }
    for (auto& [p, v] : staged) {
      if (p == &it->second) {
        return Status::InvalidArgument("ERR CONFIG SET failed (possibly related to argument '" +
                                       std::string(raw_name) + "') - duplicate parameter");
      }
    }
    if (it->second.effect == Effect::kImmutable) {
      return Status::InvalidArgument("ERR CONFIG SET failed (possibly related to argument '" +
                                     std::string(raw_name) + "') - can't set immutable config");
    }
    auto canon = Canonicalize(it->second, raw_value);
    if (!canon.ok()) {
      return Status::InvalidArgument("ERR CONFIG SET failed (possibly related to argument '" +
                                     std::string(raw_name) + "') - " + canon.status().message());
    }
    staged.emplace_back(&it->second, *canon);
  }
  for (auto& [p, v] : staged) {
    if (auto h = hooks_.find(p->name); h != hooks_.end()) {
      Status st = h->second(v);
      if (!st.ok()) {
        return Status::InvalidArgument("ERR CONFIG SET failed (possibly related to argument '" +
                                       p->name + "') - " + st.message());
      }
    }
  }
  for (auto& [p, v] : staged) p->value = std::move(v);
  return Status::Ok();
}

}  // namespace tandem::server
