// Generic keyspace commands: DEL EXISTS TYPE RENAME COPY KEYS SCAN
// RANDOMKEY, the EXPIRE family, TTL family, PERSIST, OBJECT, DBSIZE, FLUSH*.
#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "kv/command.h"
#include "kv/glob.h"
#include "kv/scan_options.h"

namespace tandem::kv {
namespace {

// DEL / UNLINK: propagated as one DEL of the keys actually removed.
void DelCommand(CommandContext& ctx) {
  Argv removed{"del"};
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (ctx.Exists(ctx.args[i]) && ctx.db.Erase(ctx.args[i])) removed.emplace_back(ctx.args[i]);
  }
  ctx.reply.Integer(static_cast<int64_t>(removed.size() - 1));
  if (removed.size() > 1) ctx.Propagate(std::move(removed));
}

void ExistsCommand(CommandContext& ctx) {
  int64_t count = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) count += ctx.Exists(ctx.args[i]) ? 1 : 0;
  ctx.reply.Integer(count);
}

void TouchCommand(CommandContext& ctx) {
  int64_t count = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) count += ctx.Lookup(ctx.args[i]) ? 1 : 0;
  ctx.reply.Integer(count);
}

void TypeCommand(CommandContext& ctx) {
  const Object* o = ctx.Peek(ctx.args[1]);
  ctx.reply.SimpleString(o ? TypeName(o->type()) : "none");
}

void RenameGeneric(CommandContext& ctx, bool nx) {
  std::string_view src = ctx.args[1], dst = ctx.args[2];
  if (ctx.Lookup(src) == nullptr) {
    ctx.ReplyError("ERR no such key");
    return;
  }
  if (src == dst) {
    nx ? ctx.reply.Integer(0) : ctx.reply.Ok();
    return;
  }
  if (ctx.Exists(dst) && nx) {
    ctx.reply.Integer(0);
    return;
  }
  int64_t expire_at;
  std::optional<Object> value = ctx.db.Extract(src, &expire_at);
  ctx.db.Set(dst, std::move(*value));
  ctx.db.SetExpire(dst, expire_at);
  ctx.Propagate({"rename", std::string(src), std::string(dst)});
  nx ? ctx.reply.Integer(1) : ctx.reply.Ok();
}

void RenameCommand(CommandContext& ctx) { RenameGeneric(ctx, false); }
void RenameNxCommand(CommandContext& ctx) { RenameGeneric(ctx, true); }

void CopyCommand(CommandContext& ctx) {
  bool replace = false;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    if (EqualsIgnoreCase(ctx.args[i], "replace")) {
      replace = true;
    } else if (EqualsIgnoreCase(ctx.args[i], "db") && i + 1 < ctx.args.size()) {
      int64_t db;
      if (!ParseInt64(ctx.args[++i], &db)) {
        ctx.ReplyNotInteger();
        return;
      }
      if (db != 0) {
        ctx.ReplyError("ERR DB index is out of range");
        return;
      }
    } else {
      ctx.ReplySyntaxError();
      return;
    }
  }
  std::string_view src = ctx.args[1], dst = ctx.args[2];
  if (src == dst) {
    ctx.ReplyError("ERR source and destination objects are the same");
    return;
  }
  const Object* value = ctx.Lookup(src);
  if (value == nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  if (ctx.Exists(dst) && !replace) {
    ctx.reply.Integer(0);
    return;
  }
  int64_t expire_at = ctx.db.GetExpire(src);
  ctx.db.Set(dst, value->Clone());
  ctx.db.SetExpire(dst, expire_at);
  ctx.Propagate({"copy", std::string(src), std::string(dst), "replace"});
  ctx.reply.Integer(1);
}

void KeysCommand(CommandContext& ctx) {
  std::string_view pattern = ctx.args[1];
  bool all = pattern == "*";
  std::vector<std::string> keys;
  ctx.db.ForEach([&](std::string_view key, const Object&, int64_t expire_at) {
    if (ctx.IsExpired(expire_at) && ctx.mode != ExecMode::kApply) return;
    if (all || GlobMatch(pattern, key)) keys.emplace_back(key);
  });
  ctx.reply.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (const std::string& k : keys) ctx.reply.Bulk(k);
}

void ScanCommand(CommandContext& ctx) {
  ScanOptions opts;
  if (!ParseScanArgs(ctx, 1, /*allow_type=*/true, &opts)) return;
  std::vector<std::string> found;
  uint64_t cursor = opts.cursor;
  size_t iterations = opts.count * 10;
  do {
    cursor = ctx.db.Scan(cursor, 1, [&](std::string_view key, const Object& value) {
      if (!opts.type.empty() && !EqualsIgnoreCase(opts.type, TypeName(value.type()))) return;
      if (!opts.pattern.empty() && !GlobMatch(opts.pattern, key)) return;
      found.emplace_back(key);
    });
  } while (cursor != 0 && --iterations > 0 && found.size() < opts.count);
  // Expired keys are dropped (and, on the leader, deleted) after the walk.
  std::vector<std::string> keys;
  keys.reserve(found.size());
  for (std::string& k : found) {
    if (ctx.Exists(k)) keys.push_back(std::move(k));
  }
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(cursor));
  ctx.reply.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (const std::string& k : keys) ctx.reply.Bulk(k);
}

void RandomKeyCommand(CommandContext& ctx) {
  for (int tries = 0; tries < 100 && ctx.db.size() > 0; ++tries) {
    std::string key = ctx.db.RandomKey(ctx.Random());
    if (ctx.Exists(key)) {
      ctx.reply.Bulk(key);
      return;
    }
  }
  ctx.reply.Null();
}

enum ExpireFlag : unsigned { kExpireNx = 1, kExpireXx = 2, kExpireGt = 4, kExpireLt = 8 };

// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT. Propagated as PEXPIREAT with the
// absolute time (the flags already decided), or as DEL when that time has
// passed.
void ExpireGeneric(CommandContext& ctx, bool seconds, bool relative, std::string_view name) {
  unsigned flags = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    std::string_view opt = ctx.args[i];
    if (EqualsIgnoreCase(opt, "nx")) {
      flags |= kExpireNx;
    } else if (EqualsIgnoreCase(opt, "xx")) {
      flags |= kExpireXx;
    } else if (EqualsIgnoreCase(opt, "gt")) {
      flags |= kExpireGt;
    } else if (EqualsIgnoreCase(opt, "lt")) {
      flags |= kExpireLt;
    } else {
      ctx.ReplyError(fmt::format("ERR Unsupported option {}", opt));
      return;
    }
  }
  if ((flags & kExpireNx) && (flags & (kExpireXx | kExpireGt | kExpireLt))) {
    ctx.ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if ((flags & kExpireGt) && (flags & kExpireLt)) {
    ctx.ReplyError("ERR GT and LT options at the same time are not compatible");
    return;
  }
  int64_t when;
  if (!ParseInt64(ctx.args[2], &when)) {
    ctx.ReplyNotInteger();
    return;
  }
  std::string invalid = fmt::format("ERR invalid expire time in '{}' command", name);
  if (seconds) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
      ctx.ReplyError(invalid);
      return;
    }
    when *= 1000;
  }
  if (relative) {
    if (when > INT64_MAX - ctx.now_ms) {
      ctx.ReplyError(invalid);
      return;
    }
    when += ctx.now_ms;
  }
  std::string_view key = ctx.args[1];
  if (ctx.Lookup(key) == nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  int64_t current = ctx.db.GetExpire(key);
  if (((flags & kExpireNx) && current != kNoExpire) ||
      ((flags & kExpireXx) && current == kNoExpire) ||
      ((flags & kExpireGt) && (current == kNoExpire || when <= current)) ||
      ((flags & kExpireLt) && current != kNoExpire && when >= current)) {
    ctx.reply.Integer(0);
    return;
  }
  if (when <= ctx.now_ms && ctx.mode == ExecMode::kLeader) {
    ctx.db.Erase(key);
    ctx.Propagate({"del", std::string(key)});
  } else {
    // kNoExpire is -1: keep a past time a past time, not "no expiry".
    ctx.db.SetExpire(key, when == kNoExpire ? kNoExpire - 1 : when);
    ctx.Propagate({"pexpireat", std::string(key), std::to_string(when)});
  }
  ctx.reply.Integer(1);
}

void ExpireCommand(CommandContext& ctx) { ExpireGeneric(ctx, true, true, "expire"); }
void PExpireCommand(CommandContext& ctx) { ExpireGeneric(ctx, false, true, "pexpire"); }
void ExpireAtCommand(CommandContext& ctx) { ExpireGeneric(ctx, true, false, "expireat"); }
void PExpireAtCommand(CommandContext& ctx) { ExpireGeneric(ctx, false, false, "pexpireat"); }

// TTL / PTTL / EXPIRETIME / PEXPIRETIME.
void TtlGeneric(CommandContext& ctx, bool ms, bool absolute) {
  std::string_view key = ctx.args[1];
  if (ctx.Peek(key) == nullptr) {
    ctx.reply.Integer(-2);
    return;
  }
  int64_t expire_at = ctx.db.GetExpire(key);
  if (expire_at == kNoExpire) {
    ctx.reply.Integer(-1);
    return;
  }
  if (absolute) {
    ctx.reply.Integer(ms ? expire_at : (expire_at + 500) / 1000);
    return;
  }
  int64_t ttl = expire_at - ctx.now_ms;
  if (ttl < 0) ttl = 0;
  ctx.reply.Integer(ms ? ttl : (ttl + 500) / 1000);
}

void TtlCommand(CommandContext& ctx) { TtlGeneric(ctx, false, false); }
void PTtlCommand(CommandContext& ctx) { TtlGeneric(ctx, true, false); }
void ExpireTimeCommand(CommandContext& ctx) { TtlGeneric(ctx, false, true); }
void PExpireTimeCommand(CommandContext& ctx) { TtlGeneric(ctx, true, true); }

void PersistCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1];
  if (ctx.Lookup(key) == nullptr || !ctx.db.Persist(key)) {
    ctx.reply.Integer(0);
    return;
  }
  ctx.Propagate({"persist", std::string(key)});
  ctx.reply.Integer(1);
}

void ObjectCommand(CommandContext& ctx) {
  std::string_view sub = ctx.args[1];
  if (EqualsIgnoreCase(sub, "help")) {
    if (ctx.args.size() != 2) {
      ctx.ReplyError("ERR wrong number of arguments for 'object|help' command");
      return;
    }
    static constexpr std::string_view kHelp[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    ctx.reply.ArrayHeader(std::size(kHelp));
    for (std::string_view line : kHelp) ctx.reply.SimpleString(line);
    return;
  }
  const char* name = nullptr;
  for (const char* candidate : {"encoding", "freq", "idletime", "refcount"}) {
    if (EqualsIgnoreCase(sub, candidate)) name = candidate;
  }
  if (name == nullptr) {
    ctx.ReplyError(
        fmt::format("ERR unknown subcommand '{}'. Try OBJECT HELP.", sub.substr(0, 128)));
    return;
  }
  if (ctx.args.size() != 3) {
    ctx.ReplyError(fmt::format("ERR wrong number of arguments for 'object|{}' command", name));
    return;
  }
  std::string_view key = ctx.args[2];
  const Object* o = ctx.Peek(key);
  if (o == nullptr) {
    ctx.reply.Null();
    return;
  }
  std::string_view which = name;
  if (which == "encoding") {
    ctx.reply.Bulk(o->EncodingName());
  } else if (which == "freq") {
    // Tandem has no maxmemory policy; Redis's default (noeviction) answers so.
    ctx.ReplyError(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
        "that when switching between policies at runtime LRU and LFU data will take some time "
        "to adjust.");
  } else if (which == "idletime") {
    ctx.reply.Integer(ctx.db.IdleMs(key, ctx.now_ms) / 1000);
  } else {
    ctx.reply.Integer(1);
  }
}

void DbSizeCommand(CommandContext& ctx) { ctx.reply.Integer(static_cast<int64_t>(ctx.db.size())); }

void FlushCommand(CommandContext& ctx) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 2 && !EqualsIgnoreCase(ctx.args[1], "async") &&
                              !EqualsIgnoreCase(ctx.args[1], "sync"))) {
    ctx.ReplySyntaxError();
    return;
  }
  ctx.db.Clear();
  ctx.Propagate({"flushall"});
  ctx.reply.Ok();
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadOnly;
constexpr uint32_t kF = kCmdFast;

constexpr CommandSpec kKeyspaceCommands[] = {
    {"del", -2, kW, 1, -1, 1, "generic", "Delete keys", "1.0.0", DelCommand},
    {"unlink", -2, kW | kF, 1, -1, 1, "generic", "Delete keys (non-blocking)", "4.0.0", DelCommand},
    {"exists", -2, kR | kF, 1, -1, 1, "generic", "Count the given keys that exist", "1.0.0",
     ExistsCommand},
    {"touch", -2, kR | kF, 1, -1, 1, "generic", "Record an access to keys", "3.2.1", TouchCommand},
    {"type", 2, kR | kF, 1, 1, 1, "generic", "The type of a key's value", "1.0.0", TypeCommand},
    {"rename", 3, kW, 1, 2, 1, "generic", "Rename a key", "1.0.0", RenameCommand},
    {"renamenx", 3, kW | kF, 1, 2, 1, "generic", "Rename a key if the new name is free", "1.0.0",
     RenameNxCommand},
    {"copy", -3, kW | kCmdDenyOom, 1, 2, 1, "generic", "Copy a key's value", "6.2.0", CopyCommand},
    {"keys", 2, kR, 0, 0, 0, "generic", "Keys matching a pattern", "1.0.0", KeysCommand},
    {"scan", -2, kR, 0, 0, 0, "generic", "Iterate over the keys", "2.8.0", ScanCommand},
    {"randomkey", 1, kR, 0, 0, 0, "generic", "A random key", "1.0.0", RandomKeyCommand},
    {"expire", -3, kW | kF, 1, 1, 1, "generic", "Set a key's time to live in seconds", "1.0.0",
     ExpireCommand},
    {"pexpire", -3, kW | kF, 1, 1, 1, "generic", "Set a key's time to live in milliseconds",
     "2.6.0", PExpireCommand},
    {"expireat", -3, kW | kF, 1, 1, 1, "generic", "Set a key's expiry as a Unix time in seconds",
     "1.2.0", ExpireAtCommand},
    {"pexpireat", -3, kW | kF, 1, 1, 1, "generic",
     "Set a key's expiry as a Unix time in milliseconds", "2.6.0", PExpireAtCommand},
    {"ttl", 2, kR | kF, 1, 1, 1, "generic", "A key's time to live in seconds", "1.0.0", TtlCommand},
    {"pttl", 2, kR | kF, 1, 1, 1, "generic", "A key's time to live in milliseconds", "2.6.0",
     PTtlCommand},
    {"expiretime", 2, kR | kF, 1, 1, 1, "generic", "A key's expiry as a Unix time in seconds",
     "7.0.0", ExpireTimeCommand},
    {"pexpiretime", 2, kR | kF, 1, 1, 1, "generic", "A key's expiry as a Unix time in milliseconds",
     "7.0.0", PExpireTimeCommand},
    {"persist", 2, kW | kF, 1, 1, 1, "generic", "Remove a key's expiry", "2.2.0", PersistCommand},
    {"object", -2, kR, 2, 2, 1, "generic", "Inspect a key's internals", "2.2.3", ObjectCommand},
    {"dbsize", 1, kR | kF, 0, 0, 0, "server", "The number of keys", "1.0.0", DbSizeCommand},
    {"flushall", -1, kW, 0, 0, 0, "server", "Remove every key", "1.0.0", FlushCommand},
    {"flushdb", -1, kW, 0, 0, 0, "server", "Remove every key of the database", "1.0.0",
     FlushCommand},
};

}  // namespace

std::span<const CommandSpec> KeyspaceCommands() { return kKeyspaceCommands; }

}  // namespace tandem::kv
