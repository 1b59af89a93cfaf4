// Hash commands: HSET HSETNX HMSET HGET HMGET HDEL HEXISTS HLEN HSTRLEN
// HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HSCAN HRANDFIELD, with Redis
// 7.0's replies and error texts. A hash whose last field goes disappears.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kv/command.h"
#include "kv/glob.h"
#include "kv/scan_options.h"

namespace tandem::kv {
namespace {

// The hash under key for reading. Replies WRONGTYPE and sets *failed when
// the key holds another type; nullptr (with *failed false) when absent.
HashValue* ReadHash(CommandContext& ctx, std::string_view key, bool* failed) {
  *failed = false;
  Object* o = ctx.Lookup(key);
  if (o == nullptr) return nullptr;
  if (!o->is_hash()) {
    ctx.ReplyWrongType();
    *failed = true;
    return nullptr;
  }
  return &o->hash();
}

// The hash under key for writing, created when absent; nullptr after
// replying WRONGTYPE. The caller must store at least one field.
HashValue* WriteHash(CommandContext& ctx, std::string_view key) {
  Object* o = ctx.Lookup(key);
  if (o == nullptr) return &ctx.db.Set(key, Object::NewHash(), /*keep_ttl=*/false).hash();
  if (!o->is_hash()) {
    ctx.ReplyWrongType();
    return nullptr;
  }
  return &o->hash();
}

void HSetGeneric(CommandContext& ctx, bool reply_ok) {
  if (ctx.args.size() % 2 != 0) {
    ctx.ReplyError(reply_ok ? "ERR wrong number of arguments for 'hmset' command"
                            : "ERR wrong number of arguments for 'hset' command");
    return;
  }
  HashValue* h = WriteHash(ctx, ctx.args[1]);
  if (h == nullptr) return;
  int64_t created = 0;
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
    created += h->Set(ctx.args[i], ctx.args[i + 1]) ? 1 : 0;
  }
  ctx.PropagateAsIs();
  reply_ok ? ctx.reply.Ok() : ctx.reply.Integer(created);
}

void HSetCommand(CommandContext& ctx) { HSetGeneric(ctx, false); }
void HMSetCommand(CommandContext& ctx) { HSetGeneric(ctx, true); }

void HSetNxCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1], field = ctx.args[2], value = ctx.args[3];
  bool failed;
  HashValue* h = ReadHash(ctx, key, &failed);
  if (failed) return;
  if (h != nullptr && h->Get(field) != nullptr) {
    ctx.reply.Integer(0);
    return;
  }
  if (h == nullptr) h = &ctx.db.Set(key, Object::NewHash()).hash();
  h->Set(field, value);
  if (ctx.propagating()) {
    ctx.Propagate({"hset", std::string(key), std::string(field), std::string(value)});
  }
  ctx.reply.Integer(1);
}

void HGetCommand(CommandContext& ctx) {
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  ctx.reply.BulkOrNull(h ? h->Get(ctx.args[2]) : nullptr);
}

void HMGetCommand(CommandContext& ctx) {
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  ctx.reply.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply.BulkOrNull(h ? h->Get(ctx.args[i]) : nullptr);
  }
}

void HDelCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1];
  bool failed;
  HashValue* h = ReadHash(ctx, key, &failed);
  if (failed) return;
  Argv removed{"hdel", std::string(key)};
  if (h != nullptr) {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (h->Erase(ctx.args[i])) removed.emplace_back(ctx.args[i]);
    }
    if (h->empty()) ctx.db.Erase(key);
  }
  int64_t deleted = static_cast<int64_t>(removed.size()) - 2;
  if (deleted > 0) ctx.Propagate(std::move(removed));
  ctx.reply.Integer(deleted);
}

void HExistsCommand(CommandContext& ctx) {
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  ctx.reply.Integer(h && h->Get(ctx.args[2]) ? 1 : 0);
}

void HLenCommand(CommandContext& ctx) {
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  ctx.reply.Integer(h ? static_cast<int64_t>(h->size()) : 0);
}

void HStrLenCommand(CommandContext& ctx) {
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  const std::string* v = h ? h->Get(ctx.args[2]) : nullptr;
  ctx.reply.Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

enum class Dump { kKeys, kValues, kBoth };

void HDumpGeneric(CommandContext& ctx, Dump what) {
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  int64_t n = h ? static_cast<int64_t>(h->size()) : 0;
  if (what == Dump::kBoth) {
    ctx.reply.MapHeader(n);
  } else {
    ctx.reply.ArrayHeader(n);
  }
  if (h == nullptr) return;
  h->ForEach([&](std::string_view f, std::string_view v) {
    if (what != Dump::kValues) ctx.reply.Bulk(f);
    if (what != Dump::kKeys) ctx.reply.Bulk(v);
  });
}

void HKeysCommand(CommandContext& ctx) { HDumpGeneric(ctx, Dump::kKeys); }
void HValsCommand(CommandContext& ctx) { HDumpGeneric(ctx, Dump::kValues); }
void HGetAllCommand(CommandContext& ctx) { HDumpGeneric(ctx, Dump::kBoth); }

void HIncrByCommand(CommandContext& ctx) {
  int64_t incr;
  if (!ParseInt64(ctx.args[3], &incr)) {
    ctx.ReplyNotInteger();
    return;
  }
  std::string_view field = ctx.args[2];
  HashValue* h = WriteHash(ctx, ctx.args[1]);
  if (h == nullptr) return;
  int64_t current = 0;
  if (const std::string* old = h->Get(field)) {
    if (!ParseInt64(*old, &current)) {
      ctx.ReplyError("ERR hash value is not an integer");
      return;
    }
  }
  if ((incr < 0 && current < 0 && incr < INT64_MIN - current) ||
      (incr > 0 && current > 0 && incr > INT64_MAX - current)) {
    ctx.ReplyError("ERR increment or decrement would overflow");
    return;
  }
  int64_t result = current + incr;
  h->Set(field, std::to_string(result));
  ctx.PropagateAsIs();
  ctx.reply.Integer(result);
}

void HIncrByFloatCommand(CommandContext& ctx) {
  long double incr;
  if (!ParseLongDouble(ctx.args[3], &incr)) {
    ctx.ReplyNotFloat();
    return;
  }
  if (std::isnan(incr) || std::isinf(incr)) {
    ctx.ReplyError("ERR value is NaN or Infinity");
    return;
  }
  std::string_view key = ctx.args[1], field = ctx.args[2];
  HashValue* h = WriteHash(ctx, key);
  if (h == nullptr) return;
  long double current = 0;
  if (const std::string* old = h->Get(field)) {
    if (!ParseLongDouble(*old, &current)) {
      ctx.ReplyError("ERR hash value is not a float");
      return;
    }
  }
  long double result = current + incr;
  if (std::isnan(result) || std::isinf(result)) {
    ctx.ReplyError("ERR increment would produce NaN or Infinity");
    return;
  }
  std::string formatted = FormatLongDoubleHuman(result);
  h->Set(field, formatted);
  // Replaying a float addition could round differently: log the result.
  ctx.Propagate({"hset", std::string(key), std::string(field), formatted});
  ctx.reply.Bulk(formatted);
}

void HScanCommand(CommandContext& ctx) {
  ScanOptions opts;
  if (!ParseScanArgs(ctx, 2, /*allow_type=*/false, &opts)) return;
  bool failed;
  HashValue* h = ReadHash(ctx, ctx.args[1], &failed);
  if (failed) return;
  std::vector<std::pair<std::string_view, std::string_view>> found;
  uint64_t cursor = 0;
  auto collect = [&](std::string_view f, std::string_view v) {
    if (opts.pattern.empty() || GlobMatch(opts.pattern, f)) found.emplace_back(f, v);
  };
  if (h != nullptr && h->is_listpack()) {
    h->ForEach(collect);  // small hashes come back whole, cursor 0 (as Redis)
  } else if (h != nullptr) {
    cursor = opts.cursor;
    size_t iterations = opts.count * 10;
    // Like Redis, COUNT counts reply elements (a field and its value are two).
    do {
      cursor = h->Scan(cursor, 1, collect);
    } while (cursor != 0 && --iterations > 0 && found.size() * 2 < opts.count);
  }
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(cursor));
  ctx.reply.ArrayHeader(static_cast<int64_t>(found.size() * 2));
  for (auto& [f, v] : found) {
    ctx.reply.Bulk(f);
    ctx.reply.Bulk(v);
  }
}

void ReplyRandomFields(CommandContext& ctx,
                       const std::vector<std::pair<std::string_view, std::string_view>>& picks,
                       bool with_values) {
  bool resp3 = ctx.reply.protocol() == resp::Protocol::kResp3;
  int64_t n = static_cast<int64_t>(picks.size());
  ctx.reply.ArrayHeader(with_values && !resp3 ? n * 2 : n);
  for (const auto& [f, v] : picks) {
    if (with_values && resp3) ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk(f);
    if (with_values) ctx.reply.Bulk(v);
  }
}

void HRandFieldCommand(CommandContext& ctx) {
  std::string_view key = ctx.args[1];
  if (ctx.args.size() == 2) {
    bool failed;
    HashValue* h = ReadHash(ctx, key, &failed);
    if (failed) return;
    if (h == nullptr) {
      ctx.reply.Null();
      return;
    }
    ctx.reply.Bulk(h->Random(ctx.Random()).first);
    return;
  }
  int64_t count;
  if (!ParseInt64(ctx.args[2], &count)) {
    ctx.ReplyNotInteger();
    return;
  }
  if (count == INT64_MIN) {
    ctx.ReplyError(
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807");
    return;
  }
  bool with_values = false;
  if (ctx.args.size() > 4 ||
      (ctx.args.size() == 4 && !EqualsIgnoreCase(ctx.args[3], "withvalues"))) {
    ctx.ReplySyntaxError();
    return;
  }
  if (ctx.args.size() == 4) {
    with_values = true;
    if (count < -INT64_MAX / 2 || count > INT64_MAX / 2) {
      ctx.ReplyError("ERR value is out of range");
      return;
    }
  }
  bool failed;
  HashValue* h = ReadHash(ctx, key, &failed);
  if (failed) return;
  if (h == nullptr || count == 0) {
    ctx.reply.ArrayHeader(0);
    return;
  }
  std::vector<std::pair<std::string_view, std::string_view>> picks;
  if (count < 0 || count == 1) {
    // Repetitions allowed: independent picks.
    uint64_t n = count < 0 ? static_cast<uint64_t>(-count) : 1;
    picks.reserve(std::min<uint64_t>(n, 1 << 20));
    for (uint64_t i = 0; i < n; ++i) picks.push_back(h->Random(ctx.Random()));
  } else {
    // Distinct fields: a partial Fisher-Yates shuffle of all of them.
    h->ForEach([&](std::string_view f, std::string_view v) { picks.emplace_back(f, v); });
    size_t want = std::min<size_t>(static_cast<uint64_t>(count), picks.size());
    for (size_t i = 0; i < want && want < picks.size(); ++i) {
      size_t j = i + ctx.Random() % (picks.size() - i);
      std::swap(picks[i], picks[j]);
    }
    picks.resize(want);
  }
  ReplyRandomFields(ctx, picks, with_values);
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadOnly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kOom = kCmdDenyOom;

constexpr CommandSpec kHashCommands[] = {
    {"hset", -4, kW | kOom | kF, 1, 1, 1, "hash", "Set hash fields", "2.0.0", HSetCommand},
    {"hmset", -4, kW | kOom | kF, 1, 1, 1, "hash", "Set hash fields (deprecated)", "2.0.0",
     HMSetCommand},
    {"hsetnx", 4, kW | kOom | kF, 1, 1, 1, "hash", "Set a hash field if absent", "2.0.0",
     HSetNxCommand},
    {"hget", 3, kR | kF, 1, 1, 1, "hash", "A hash field's value", "2.0.0", HGetCommand},
    {"hmget", -3, kR | kF, 1, 1, 1, "hash", "Several hash fields' values", "2.0.0", HMGetCommand},
    {"hdel", -3, kW | kF, 1, 1, 1, "hash", "Delete hash fields", "2.0.0", HDelCommand},
    {"hexists", 3, kR | kF, 1, 1, 1, "hash", "Whether a hash field exists", "2.0.0",
     HExistsCommand},
    {"hlen", 2, kR | kF, 1, 1, 1, "hash", "The number of fields in a hash", "2.0.0", HLenCommand},
    {"hstrlen", 3, kR | kF, 1, 1, 1, "hash", "The length of a hash field's value", "3.2.0",
     HStrLenCommand},
    {"hkeys", 2, kR, 1, 1, 1, "hash", "All fields of a hash", "2.0.0", HKeysCommand},
    {"hvals", 2, kR, 1, 1, 1, "hash", "All values of a hash", "2.0.0", HValsCommand},
    {"hgetall", 2, kR, 1, 1, 1, "hash", "All fields and values of a hash", "2.0.0", HGetAllCommand},
    {"hincrby", 4, kW | kOom | kF, 1, 1, 1, "hash", "Add an integer to a hash field", "2.0.0",
     HIncrByCommand},
    {"hincrbyfloat", 4, kW | kOom | kF, 1, 1, 1, "hash", "Add a float to a hash field", "2.6.0",
     HIncrByFloatCommand},
    {"hscan", -3, kR, 1, 1, 1, "hash", "Iterate over a hash's fields", "2.8.0", HScanCommand},
    {"hrandfield", -2, kR, 1, 1, 1, "hash", "Random fields of a hash", "6.2.0", HRandFieldCommand},
};

}  // namespace

std::span<const CommandSpec> HashCommands() { return kHashCommands; }

}  // namespace tandem::kv
