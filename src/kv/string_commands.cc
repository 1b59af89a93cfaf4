// The string command group: GET/SET and friends, counters, ranges and LCS,
// with Redis 7.0's replies and error texts.
//
// Propagation (see the determinism contract in command.h): every command
// that changes the keyspace propagates a command whose replay gives the same
// keyspace whatever the replaying node's clock says. Relative expiries become
// SET ... PXAT / PEXPIREAT, INCRBYFLOAT becomes SET ... KEEPTTL, a write whose
// expiry is already in the past becomes DEL, and a command that changes
// nothing propagates nothing.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/command.h"
#include "kv/string_util.h"
#include "resp/writer.h"

namespace tandem::kv {
namespace {

// ---------------------------------------------------------------------------
// SET / GETEX option parsing.

enum class ExpireKind { kNone, kEx, kPx, kExAt, kPxAt };

struct ExtendedOptions {
  bool nx = false;
  bool xx = false;
  bool get = false;
  bool keep_ttl = false;
  bool persist = false;
  ExpireKind expire = ExpireKind::kNone;
  std::string_view expire_arg;
};

enum class OptionsFor { kSet, kGetEx };

// Parses SET's (from args[3]) or GETEX's (from args[2]) options with Redis's
// exact acceptance rules: repeated compatible options are allowed (the last
// expiry wins), conflicting ones are a syntax error. Replies and returns
// false on error.
bool ParseExtendedOptions(CommandContext& ctx, OptionsFor kind, ExtendedOptions* opts) {
  const bool for_set = kind == OptionsFor::kSet;
  auto any_expire = [&] { return opts->expire != ExpireKind::kNone; };
  for (size_t i = for_set ? 3 : 2; i < ctx.args.size(); ++i) {
    std::string_view opt = ctx.args[i];
    const bool has_next = i + 1 < ctx.args.size();
    auto take_expire = [&](ExpireKind kind_wanted) {
      // An expiry option conflicts with KEEPTTL, PERSIST and the other three
      // expiry kinds, but may repeat itself.
      if (opts->keep_ttl || opts->persist || !has_next) return false;
      if (any_expire() && opts->expire != kind_wanted) return false;
      opts->expire = kind_wanted;
      opts->expire_arg = ctx.args[++i];
      return true;
    };
    bool ok = false;
    if (EqualsIgnoreCase(opt, "NX")) {
      ok = for_set && !opts->xx;
      opts->nx = ok;
    } else if (EqualsIgnoreCase(opt, "XX")) {
      ok = for_set && !opts->nx;
      opts->xx = ok;
    } else if (EqualsIgnoreCase(opt, "GET")) {
      ok = for_set;
      opts->get = ok;
    } else if (EqualsIgnoreCase(opt, "KEEPTTL")) {
      ok = for_set && !any_expire();
      opts->keep_ttl = ok;
    } else if (EqualsIgnoreCase(opt, "PERSIST")) {
      ok = !for_set && !any_expire();
      opts->persist = ok;
    } else if (EqualsIgnoreCase(opt, "EX")) {
      ok = take_expire(ExpireKind::kEx);
    } else if (EqualsIgnoreCase(opt, "PX")) {
      ok = take_expire(ExpireKind::kPx);
    } else if (EqualsIgnoreCase(opt, "EXAT")) {
      ok = take_expire(ExpireKind::kExAt);
    } else if (EqualsIgnoreCase(opt, "PXAT")) {
      ok = take_expire(ExpireKind::kPxAt);
    }
    if (!ok) {
      ctx.ReplySyntaxError();
      return false;
    }
  }
  return true;
}

void ReplyInvalidExpire(CommandContext& ctx, std::string_view command) {
  ctx.ReplyError("ERR invalid expire time in '" + std::string(command) + "' command");
}

// Turns an expiry argument into an absolute Unix-ms time, as Redis's
// getExpireMillisecondsOrReply does: the value must be a positive integer,
// relative kinds are added to now_ms, and overflow is an error. `command` is
// the lower-case name used in the error text. Replies and returns nullopt on
// error.
std::optional<int64_t> ResolveExpire(CommandContext& ctx, ExpireKind kind, std::string_view arg,
                                     std::string_view command) {
  int64_t value;
  if (!ParseInt64(arg, &value)) {
    ctx.ReplyNotInteger();
    return std::nullopt;
  }
  const bool seconds = kind == ExpireKind::kEx || kind == ExpireKind::kExAt;
  if (value <= 0 || (seconds && value > std::numeric_limits<int64_t>::max() / 1000)) {
    ReplyInvalidExpire(ctx, command);
    return std::nullopt;
  }
  if (seconds) value *= 1000;
  if (kind == ExpireKind::kEx || kind == ExpireKind::kPx) {
    if (ctx.now_ms > 0 && value > std::numeric_limits<int64_t>::max() - ctx.now_ms) {
      ReplyInvalidExpire(ctx, command);
      return std::nullopt;
    }
    value += ctx.now_ms;
  }
  return value;
}

std::string ToDecimal(int64_t v) { return std::to_string(v); }

// ---------------------------------------------------------------------------
// The SET family.

struct SetRequest {
  SetRequest(std::string_view key, std::string_view value) : key(key), value(value) {}
  std::string_view key;
  std::string_view value;
  bool nx = false;
  bool xx = false;
  bool get = false;  // reply with the old value (SET ... GET)
  bool keep_ttl = false;
  std::optional<int64_t> expire_at;  // absolute Unix ms
};

enum class SetOutcome { kWritten, kAborted, kFailed };

// The shared core of SET, SETNX, SETEX, PSETEX (Redis's setGenericCommand).
// With `get` it replies the old value (or WRONGTYPE, then kFailed); otherwise
// it writes no reply and the caller replies according to the outcome.
SetOutcome ExecuteSet(CommandContext& ctx, const SetRequest& req) {
  Object* old = nullptr;
  if (req.get) {
    if (!LookupString(ctx, req.key, &old)) return SetOutcome::kFailed;
    ctx.reply.BulkOrNull(old ? &old->str() : nullptr);
  } else {
    old = ctx.Lookup(req.key);
  }
  const bool found = old != nullptr;
  if ((req.nx && found) || (req.xx && !found)) return SetOutcome::kAborted;

  if (req.expire_at && ctx.mode == ExecMode::kLeader && ctx.IsExpired(*req.expire_at)) {
    // The new value would be born expired: the key simply ends up absent.
    if (found && ctx.db.Erase(req.key)) ctx.Propagate({"del", std::string(req.key)});
    return SetOutcome::kWritten;
  }
  ctx.db.Set(req.key, Object::String(std::string(req.value)), req.keep_ttl);
  if (req.expire_at) ctx.db.SetExpire(req.key, *req.expire_at);
  // Only a leader logs the command: a follower applying the log does not
  // copy the value a second time (it was ~10% of a catch-up's CPU).
  if (!ctx.propagating()) return SetOutcome::kWritten;
  Argv propagated = {"set", std::string(req.key), std::string(req.value)};
  if (req.expire_at) {
    propagated.push_back("pxat");
    propagated.push_back(ToDecimal(*req.expire_at));
  } else if (req.keep_ttl) {
    propagated.push_back("keepttl");
  }
  ctx.Propagate(std::move(propagated));
  return SetOutcome::kWritten;
}

void SetCommand(CommandContext& ctx) {
  ExtendedOptions opts;
  if (!ParseExtendedOptions(ctx, OptionsFor::kSet, &opts)) return;
  SetRequest req(ctx.args[1], ctx.args[2]);
  req.nx = opts.nx;
  req.xx = opts.xx;
  req.get = opts.get;
  req.keep_ttl = opts.keep_ttl;
  if (opts.expire != ExpireKind::kNone) {
    req.expire_at = ResolveExpire(ctx, opts.expire, opts.expire_arg, "set");
    if (!req.expire_at) return;
  }
  SetOutcome outcome = ExecuteSet(ctx, req);
  if (req.get || outcome == SetOutcome::kFailed) return;
  if (outcome == SetOutcome::kWritten) {
    ctx.reply.Ok();
  } else {
    ctx.reply.Null();
  }
}

void SetNxCommand(CommandContext& ctx) {
  SetRequest req(ctx.args[1], ctx.args[2]);
  req.nx = true;
  ctx.reply.Integer(ExecuteSet(ctx, req) == SetOutcome::kWritten ? 1 : 0);
}

// SETEX key seconds value / PSETEX key milliseconds value.
void SetWithExpire(CommandContext& ctx, ExpireKind kind, std::string_view command) {
  SetRequest req(ctx.args[1], ctx.args[3]);
  req.expire_at = ResolveExpire(ctx, kind, ctx.args[2], command);
  if (!req.expire_at) return;
  ExecuteSet(ctx, req);
  ctx.reply.Ok();
}

void SetExCommand(CommandContext& ctx) { SetWithExpire(ctx, ExpireKind::kEx, "setex"); }
void PSetExCommand(CommandContext& ctx) { SetWithExpire(ctx, ExpireKind::kPx, "psetex"); }

void GetSetCommand(CommandContext& ctx) {
  SetRequest req(ctx.args[1], ctx.args[2]);
  req.get = true;
  ExecuteSet(ctx, req);
}

// MSET / MSETNX: key value [key value ...].
void MultiSet(CommandContext& ctx, bool only_if_none_exist, std::string_view command) {
  if (ctx.args.size() % 2 == 0) {
    ctx.ReplyError("ERR wrong number of arguments for '" + std::string(command) + "' command");
    return;
  }
  if (only_if_none_exist) {
    for (size_t i = 1; i < ctx.args.size(); i += 2) {
      if (ctx.Lookup(ctx.args[i]) != nullptr) {
        ctx.reply.Integer(0);
        return;
      }
    }
  }
  for (size_t i = 1; i < ctx.args.size(); i += 2) {
    ctx.db.Set(ctx.args[i], Object::String(std::string(ctx.args[i + 1])));
  }
  if (ctx.propagating()) {
    Argv propagated = {"mset"};
    propagated.insert(propagated.end(), ctx.args.begin() + 1, ctx.args.end());
    ctx.Propagate(std::move(propagated));
  }
  if (only_if_none_exist) {
    ctx.reply.Integer(1);
  } else {
    ctx.reply.Ok();
  }
}

void MSetCommand(CommandContext& ctx) { MultiSet(ctx, false, "mset"); }
void MSetNxCommand(CommandContext& ctx) { MultiSet(ctx, true, "msetnx"); }

// ---------------------------------------------------------------------------
// Reads and read-and-modify.

void GetCommand(CommandContext& ctx) {
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  ctx.reply.BulkOrNull(o ? &o->str() : nullptr);
}

void MGetCommand(CommandContext& ctx) {
  ctx.reply.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 1));
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    Object* o = ctx.Lookup(ctx.args[i]);
    ctx.reply.BulkOrNull(o != nullptr && o->is_string() ? &o->str() : nullptr);
  }
}

void GetDelCommand(CommandContext& ctx) {
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  if (o == nullptr) {
    ctx.reply.Null();
    return;
  }
  ctx.reply.Bulk(o->str());
  ctx.db.Erase(ctx.args[1]);
  ctx.Propagate({"del", std::string(ctx.args[1])});
}

void GetExCommand(CommandContext& ctx) {
  ExtendedOptions opts;
  if (!ParseExtendedOptions(ctx, OptionsFor::kGetEx, &opts)) return;
  std::string_view key = ctx.args[1];
  Object* o;
  if (!LookupString(ctx, key, &o)) return;
  if (o == nullptr) {
    ctx.reply.Null();
    return;
  }
  std::optional<int64_t> expire_at;
  if (opts.expire != ExpireKind::kNone) {
    expire_at = ResolveExpire(ctx, opts.expire, opts.expire_arg, "getex");
    if (!expire_at) return;
  }
  ctx.reply.Bulk(o->str());
  if (expire_at && ctx.mode == ExecMode::kLeader && ctx.IsExpired(*expire_at)) {
    ctx.db.Erase(key);
    ctx.Propagate({"del", std::string(key)});
  } else if (expire_at) {
    ctx.db.SetExpire(key, *expire_at);
    ctx.Propagate({"pexpireat", std::string(key), ToDecimal(*expire_at)});
  } else if (opts.persist && ctx.db.Persist(key)) {
    ctx.Propagate({"persist", std::string(key)});
  }
}

void StrLenCommand(CommandContext& ctx) {
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  ctx.reply.Integer(o ? static_cast<int64_t>(o->str().size()) : 0);
}

// GETRANGE / SUBSTR key start end.
void GetRangeCommand(CommandContext& ctx) {
  int64_t start, end;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
    ctx.ReplyNotInteger();
    return;
  }
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  if (o == nullptr) {
    ctx.reply.Bulk("");
    return;
  }
  const std::string& s = o->str();
  std::optional<ByteRange> range = ClampRange(start, end, static_cast<int64_t>(s.size()));
  if (!range) {
    ctx.reply.Bulk("");
    return;
  }
  ctx.reply.Bulk(std::string_view(s).substr(range->first, range->last - range->first + 1));
}

void AppendCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1];
  std::string_view tail = ctx.args[2];
  Object* o;
  if (!LookupString(ctx, key, &o)) return;
  if (o == nullptr) {
    // Redis creates the key even for an empty suffix.
    ctx.db.Set(key, Object::String(std::string(tail)));
    ctx.PropagateAsIs();
    ctx.reply.Integer(static_cast<int64_t>(tail.size()));
    return;
  }
  std::string& s = o->str();
  if (!FitsStringLimit(s.size(), tail.size())) {
    ctx.ReplyError(kStringTooLongError);
    return;
  }
  if (!tail.empty()) {
    s.append(tail);
    ctx.PropagateAsIs();
  }
  ctx.reply.Integer(static_cast<int64_t>(s.size()));
}

void SetRangeCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1];
  std::string_view patch = ctx.args[3];
  int64_t offset;
  if (!ParseInt64(ctx.args[2], &offset)) {
    ctx.ReplyNotInteger();
    return;
  }
  if (offset < 0) {
    ctx.ReplyError("ERR offset is out of range");
    return;
  }
  Object* o;
  if (!LookupString(ctx, key, &o)) return;
  if (patch.empty()) {
    // Nothing to write: the key is neither created nor changed.
    ctx.reply.Integer(o ? static_cast<int64_t>(o->str().size()) : 0);
    return;
  }
  if (!FitsStringLimit(static_cast<uint64_t>(offset), patch.size())) {
    ctx.ReplyError(kStringTooLongError);
    return;
  }
  if (o == nullptr) o = &ctx.db.Set(key, Object::String(std::string()));
  std::string& s = o->str();
  const size_t needed = static_cast<size_t>(offset) + patch.size();
  if (s.size() < needed) s.resize(needed, '\0');
  s.replace(static_cast<size_t>(offset), patch.size(), patch);
  ctx.PropagateAsIs();
  ctx.reply.Integer(static_cast<int64_t>(s.size()));
}

// ---------------------------------------------------------------------------
// Counters.

// INCR/DECR/INCRBY/DECRBY: adds `delta` to the integer stored at args[1],
// keeping the key's TTL.
void IncrementBy(CommandContext& ctx, int64_t delta) {
  std::string_view key = ctx.args[1];
  Object* o;
  if (!LookupString(ctx, key, &o)) return;
  int64_t current = 0;
  if (o != nullptr && !ParseInt64(o->str(), &current)) {
    ctx.ReplyNotInteger();
    return;
  }
  int64_t result;
  if (__builtin_add_overflow(current, delta, &result)) {
    ctx.ReplyError("ERR increment or decrement would overflow");
    return;
  }
  if (o == nullptr) {
    ctx.db.Set(key, Object::String(ToDecimal(result)));
  } else {
    o->str() = ToDecimal(result);
  }
  ctx.PropagateAsIs();
  ctx.reply.Integer(result);
}

// Parses the increment argument of INCRBY/DECRBY; replies on error.
std::optional<int64_t> ParseDelta(CommandContext& ctx) {
  int64_t delta;
  if (!ParseInt64(ctx.args[2], &delta)) {
    ctx.ReplyNotInteger();
    return std::nullopt;
  }
  return delta;
}

void IncrCommand(CommandContext& ctx) { IncrementBy(ctx, 1); }
void DecrCommand(CommandContext& ctx) { IncrementBy(ctx, -1); }

void IncrByCommand(CommandContext& ctx) {
  if (std::optional<int64_t> delta = ParseDelta(ctx)) IncrementBy(ctx, *delta);
}

void DecrByCommand(CommandContext& ctx) {
  std::optional<int64_t> delta = ParseDelta(ctx);
  if (!delta) return;
  if (*delta == std::numeric_limits<int64_t>::min()) {
    ctx.ReplyError("ERR decrement would overflow");
    return;
  }
  IncrementBy(ctx, -*delta);
}

void IncrByFloatCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1];
  Object* o;
  if (!LookupString(ctx, key, &o)) return;
  long double current = 0;
  long double delta;
  if ((o != nullptr && !ParseLongDouble(o->str(), &current)) ||
      !ParseLongDouble(ctx.args[2], &delta)) {
    ctx.ReplyNotFloat();
    return;
  }
  long double result = current + delta;
  if (std::isnan(result) || std::isinf(result)) {
    ctx.ReplyError("ERR increment would produce NaN or Infinity");
    return;
  }
  std::string text = resp::FormatDoubleHuman(result);
  if (o == nullptr) {
    ctx.db.Set(key, Object::String(text));
  } else {
    o->str() = text;  // keeps the TTL
  }
  // Replicas store the formatted result, so float rounding never diverges.
  ctx.Propagate({"set", std::string(key), text, "keepttl"});
  ctx.reply.Bulk(text);
}

// ---------------------------------------------------------------------------
// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]

void LcsCommand(CommandContext& ctx) {
  Object* a = ctx.Lookup(ctx.args[1]);
  Object* b = ctx.Lookup(ctx.args[2]);
  if ((a != nullptr && !a->is_string()) || (b != nullptr && !b->is_string())) {
    ctx.ReplyError("ERR The specified keys must contain string values");
    return;
  }
  bool want_len = false, want_idx = false, with_match_len = false;
  int64_t min_match_len = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    std::string_view opt = ctx.args[i];
    if (EqualsIgnoreCase(opt, "IDX")) {
      want_idx = true;
    } else if (EqualsIgnoreCase(opt, "LEN")) {
      want_len = true;
    } else if (EqualsIgnoreCase(opt, "WITHMATCHLEN")) {
      with_match_len = true;
    } else if (EqualsIgnoreCase(opt, "MINMATCHLEN") && i + 1 < ctx.args.size()) {
      if (!ParseInt64(ctx.args[++i], &min_match_len)) {
        ctx.ReplyNotInteger();
        return;
      }
      if (min_match_len < 0) min_match_len = 0;
    } else {
      ctx.ReplySyntaxError();
      return;
    }
  }
  if (want_idx && want_len) {
    ctx.ReplyError("ERR If you want both the length and indexes, please just use IDX.");
    return;
  }
  std::string_view sa = a ? std::string_view(a->str()) : std::string_view();
  std::string_view sb = b ? std::string_view(b->str()) : std::string_view();
  Result<LcsResult> lcs = ComputeLcs(sa, sb, static_cast<uint64_t>(min_match_len));
  if (!lcs.ok()) {
    ctx.ReplyError("ERR " + lcs.status().message());
    return;
  }
  if (want_len) {
    ctx.reply.Integer(static_cast<int64_t>(lcs->length));
    return;
  }
  if (!want_idx) {
    ctx.reply.Bulk(lcs->text);
    return;
  }
  ctx.reply.MapHeader(2);
  ctx.reply.Bulk("matches");
  ctx.reply.ArrayHeader(static_cast<int64_t>(lcs->matches.size()));
  for (const LcsMatch& m : lcs->matches) {
    ctx.reply.ArrayHeader(with_match_len ? 3 : 2);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(m.a_start);
    ctx.reply.Integer(m.a_end);
    ctx.reply.ArrayHeader(2);
    ctx.reply.Integer(m.b_start);
    ctx.reply.Integer(m.b_end);
    if (with_match_len) ctx.reply.Integer(m.a_end - m.a_start + 1);
  }
  ctx.reply.Bulk("len");
  ctx.reply.Integer(static_cast<int64_t>(lcs->length));
}

constexpr uint32_t kWriteDenyOom = kCmdWrite | kCmdDenyOom;

const CommandSpec kStringCommands[] = {
    {"get", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, "string", "Get the value of a key", "1.0.0",
     GetCommand},
    {"set", -3, kWriteDenyOom, 1, 1, 1, "string", "Set the string value of a key", "1.0.0",
     SetCommand},
    {"setnx", 3, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Set the value of a key, only if the key does not exist", "1.0.0", SetNxCommand},
    {"setex", 4, kWriteDenyOom, 1, 1, 1, "string", "Set the value and expiration of a key", "2.0.0",
     SetExCommand},
    {"psetex", 4, kWriteDenyOom, 1, 1, 1, "string",
     "Set the value and expiration in milliseconds of a key", "2.6.0", PSetExCommand},
    {"mget", -2, kCmdReadOnly | kCmdFast, 1, -1, 1, "string",
     "Get the values of all the given keys", "1.0.0", MGetCommand},
    {"mset", -3, kWriteDenyOom, 1, -1, 2, "string", "Set multiple keys to multiple values", "1.0.1",
     MSetCommand},
    {"msetnx", -3, kWriteDenyOom, 1, -1, 2, "string",
     "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
     MSetNxCommand},
    {"getset", 3, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Set the string value of a key and return its old value", "1.0.0", GetSetCommand},
    {"getdel", 2, kCmdWrite | kCmdFast, 1, 1, 1, "string",
     "Get the value of a key and delete the key", "6.2.0", GetDelCommand},
    {"getex", -2, kCmdWrite | kCmdFast, 1, 1, 1, "string",
     "Get the value of a key and optionally set its expiration", "6.2.0", GetExCommand},
    {"append", 3, kWriteDenyOom | kCmdFast, 1, 1, 1, "string", "Append a value to a key", "2.0.0",
     AppendCommand},
    {"strlen", 2, kCmdReadOnly | kCmdFast, 1, 1, 1, "string",
     "Get the length of the value stored in a key", "2.2.0", StrLenCommand},
    {"getrange", 4, kCmdReadOnly, 1, 1, 1, "string",
     "Get a substring of the string stored at a key", "2.4.0", GetRangeCommand},
    {"substr", 4, kCmdReadOnly, 1, 1, 1, "string", "Get a substring of the string stored at a key",
     "1.0.0", GetRangeCommand},
    {"setrange", 4, kWriteDenyOom, 1, 1, 1, "string",
     "Overwrite part of a string at key starting at the specified offset", "2.2.0",
     SetRangeCommand},
    {"incr", 2, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Increment the integer value of a key by one", "1.0.0", IncrCommand},
    {"decr", 2, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Decrement the integer value of a key by one", "1.0.0", DecrCommand},
    {"incrby", 3, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Increment the integer value of a key by the given amount", "1.0.0", IncrByCommand},
    {"decrby", 3, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Decrement the integer value of a key by the given number", "1.0.0", DecrByCommand},
    {"incrbyfloat", 3, kWriteDenyOom | kCmdFast, 1, 1, 1, "string",
     "Increment the float value of a key by the given amount", "2.6.0", IncrByFloatCommand},
    {"lcs", -3, kCmdReadOnly, 1, 2, 1, "string", "Find longest common substring", "7.0.0",
     LcsCommand},
};

}  // namespace

std::span<const CommandSpec> StringCommands() { return kStringCommands; }

}  // namespace tandem::kv
