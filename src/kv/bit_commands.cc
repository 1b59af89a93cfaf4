// The bitmap command group: SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP over
// string values, with Redis 7.0's replies, error texts and corner cases.
// Bit 0 is the most significant bit of the first byte, as in Redis.
//
// Propagation: SETBIT and BITOP are deterministic given the keyspace, so a
// call that changes something propagates as received; one that changes
// nothing (SETBIT to the bit's current value, BITOP of empty sources onto a
// missing key) propagates nothing.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/command.h"
#include "kv/string_util.h"
#include "resp/writer.h"

namespace tandem::kv {
namespace {

constexpr std::string_view kBitOffsetError = "ERR bit offset is not an integer or out of range";
constexpr std::string_view kBitValueError = "ERR bit is not an integer or out of range";

// Parses a bit offset: a non-negative integer addressing a byte below
// kMaxStringLength. Replies and returns nullopt on error.
std::optional<uint64_t> ParseBitOffset(CommandContext& ctx, std::string_view arg) {
  int64_t offset;
  if (!ParseInt64(arg, &offset) || offset < 0 ||
      (static_cast<uint64_t>(offset) >> 3) >= kMaxStringLength) {
    ctx.ReplyError(kBitOffsetError);
    return std::nullopt;
  }
  return static_cast<uint64_t>(offset);
}

uint8_t ByteAt(std::string_view s, uint64_t index) { return static_cast<uint8_t>(s[index]); }

int BitAt(std::string_view s, uint64_t bit) { return (ByteAt(s, bit >> 3) >> (7 - (bit & 7))) & 1; }

// Set bits among positions [first, last] (inclusive, both within s).
int64_t CountBits(std::string_view s, uint64_t first, uint64_t last) {
  int64_t count = 0;
  uint64_t pos = first;
  for (; pos <= last && (pos & 7) != 0; ++pos) count += BitAt(s, pos);
  for (; pos + 7 <= last; pos += 8) count += std::popcount(ByteAt(s, pos >> 3));
  for (; pos <= last; ++pos) count += BitAt(s, pos);
  return count;
}

// Position of the first bit equal to `bit` among [first, last], or -1.
int64_t FindBit(std::string_view s, uint64_t first, uint64_t last, int bit) {
  const uint8_t skip_byte = bit ? 0x00 : 0xff;
  uint64_t pos = first;
  while (pos <= last) {
    if ((pos & 7) == 0 && pos + 7 <= last && ByteAt(s, pos >> 3) == skip_byte) {
      pos += 8;  // a whole byte with no candidate
      continue;
    }
    if (BitAt(s, pos) == bit) return static_cast<int64_t>(pos);
    ++pos;
  }
  return -1;
}

// Parses BYTE|BIT; replies a syntax error and returns nullopt otherwise.
std::optional<bool> ParseBitUnit(CommandContext& ctx, std::string_view arg) {
  if (EqualsIgnoreCase(arg, "BIT")) return true;
  if (EqualsIgnoreCase(arg, "BYTE")) return false;
  ctx.ReplySyntaxError();
  return std::nullopt;
}

// A range in bit positions over a string of `bytes` bytes: user indexes are
// bits when `in_bits`, else bytes (then widened to whole bytes).
std::optional<ByteRange> BitRange(int64_t start, int64_t end, uint64_t bytes, bool in_bits,
                                  bool reject_reversed_negatives) {
  const int64_t length = static_cast<int64_t>(in_bits ? bytes * 8 : bytes);
  std::optional<ByteRange> range = ClampRange(start, end, length, reject_reversed_negatives);
  if (range && !in_bits) range = ByteRange{range->first * 8, range->last * 8 + 7};
  return range;
}

void SetBitCommand(CommandContext& ctx) {
  std::optional<uint64_t> offset = ParseBitOffset(ctx, ctx.args[2]);
  if (!offset) return;
  int64_t value;
  if (!ParseInt64(ctx.args[3], &value) || (value & ~int64_t{1}) != 0) {
    ctx.ReplyError(kBitValueError);
    return;
  }
  std::string_view key = ctx.args[1];
  Object* o;
  if (!LookupString(ctx, key, &o)) return;
  bool changed = false;
  if (o == nullptr) {
    o = &ctx.db.Set(key, Object::String(std::string()));
    changed = true;
  }
  std::string& s = o->str();
  const uint64_t byte_index = *offset >> 3;
  if (s.size() <= byte_index) {
    s.resize(byte_index + 1, '\0');
    changed = true;
  }
  const uint8_t mask = static_cast<uint8_t>(1u << (7 - (*offset & 7)));
  const uint8_t old_byte = static_cast<uint8_t>(s[byte_index]);
  const bool old_bit = (old_byte & mask) != 0;
  if (old_bit != (value == 1)) {
    s[byte_index] = static_cast<char>(value ? (old_byte | mask) : (old_byte & ~mask));
    changed = true;
  }
  if (changed) ctx.PropagateAsIs();
  ctx.reply.Integer(old_bit ? 1 : 0);
}

void GetBitCommand(CommandContext& ctx) {
  std::optional<uint64_t> offset = ParseBitOffset(ctx, ctx.args[2]);
  if (!offset) return;
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  const bool in_string = o != nullptr && (*offset >> 3) < o->str().size();
  ctx.reply.Integer(in_string ? BitAt(o->str(), *offset) : 0);
}

// BITCOUNT key [start end [BYTE|BIT]]
void BitCountCommand(CommandContext& ctx) {
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  if (o == nullptr) {
    ctx.reply.Integer(0);  // before any argument check, as Redis
    return;
  }
  std::string_view s = o->str();
  const size_t argc = ctx.args.size();
  std::optional<ByteRange> range;
  if (argc == 4 || argc == 5) {
    int64_t start, end;
    if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
      ctx.ReplyNotInteger();
      return;
    }
    if (start < 0 && end < 0 && start > end) {
      ctx.reply.Integer(0);  // checked before the unit, as Redis
      return;
    }
    bool in_bits = false;
    if (argc == 5) {
      std::optional<bool> unit = ParseBitUnit(ctx, ctx.args[4]);
      if (!unit) return;
      in_bits = *unit;
    }
    range = BitRange(start, end, s.size(), in_bits, /*reject_reversed_negatives=*/true);
  } else if (argc == 2) {
    range = BitRange(0, -1, s.size(), false, true);
  } else {
    ctx.ReplySyntaxError();
    return;
  }
  ctx.reply.Integer(
      range ? CountBits(s, static_cast<uint64_t>(range->first), static_cast<uint64_t>(range->last))
            : 0);
}

// BITPOS key bit [start [end [BYTE|BIT]]]
void BitPosCommand(CommandContext& ctx) {
  int64_t bit;
  if (!ParseInt64(ctx.args[2], &bit)) {
    ctx.ReplyNotInteger();
    return;
  }
  if (bit != 0 && bit != 1) {
    ctx.ReplyError("ERR The bit argument must be 1 or 0.");
    return;
  }
  Object* o;
  if (!LookupString(ctx, ctx.args[1], &o)) return;
  if (o == nullptr) {
    // A missing key is an endless run of clear bits.
    ctx.reply.Integer(bit ? -1 : 0);
    return;
  }
  std::string_view s = o->str();
  const size_t argc = ctx.args.size();
  int64_t start = 0, end = -1;
  bool in_bits = false, end_given = false;
  if (argc >= 4 && argc <= 6) {
    if (!ParseInt64(ctx.args[3], &start)) {
      ctx.ReplyNotInteger();
      return;
    }
    if (argc == 6) {
      std::optional<bool> unit = ParseBitUnit(ctx, ctx.args[5]);
      if (!unit) return;
      in_bits = *unit;
    }
    if (argc >= 5) {
      if (!ParseInt64(ctx.args[4], &end)) {
        ctx.ReplyNotInteger();
        return;
      }
      end_given = true;
    }
  } else if (argc != 3) {
    ctx.ReplySyntaxError();
    return;
  }
  std::optional<ByteRange> range =
      BitRange(start, end, s.size(), in_bits, /*reject_reversed_negatives=*/false);
  if (!range) {
    ctx.reply.Integer(-1);  // an empty range holds neither a 0 nor a 1
    return;
  }
  const uint64_t first = static_cast<uint64_t>(range->first);
  const uint64_t last = static_cast<uint64_t>(range->last);
  int64_t pos = FindBit(s, first, last, static_cast<int>(bit));
  if (pos < 0 && bit == 0 && !end_given) {
    // Without an explicit end the string counts as padded with clear bits.
    pos = static_cast<int64_t>(last) + 1;
  }
  ctx.reply.Integer(pos);
}

enum class BitOp { kAnd, kOr, kXor, kNot };

// BITOP AND|OR|XOR|NOT destkey srckey [srckey ...]
void BitOpCommand(CommandContext& ctx) {
  std::string_view op_name = ctx.args[1];
  BitOp op;
  if (EqualsIgnoreCase(op_name, "AND")) {
    op = BitOp::kAnd;
  } else if (EqualsIgnoreCase(op_name, "OR")) {
    op = BitOp::kOr;
  } else if (EqualsIgnoreCase(op_name, "XOR")) {
    op = BitOp::kXor;
  } else if (EqualsIgnoreCase(op_name, "NOT")) {
    op = BitOp::kNot;
  } else {
    ctx.ReplySyntaxError();
    return;
  }
  if (op == BitOp::kNot && ctx.args.size() != 4) {
    ctx.ReplyError("ERR BITOP NOT must be called with a single source key.");
    return;
  }
  // Missing sources are empty strings; shorter ones are padded with zeros.
  std::vector<std::string_view> sources;
  size_t max_len = 0;
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    Object* o;
    if (!LookupString(ctx, ctx.args[i], &o)) return;
    sources.push_back(o ? std::string_view(o->str()) : std::string_view());
    max_len = std::max(max_len, sources.back().size());
  }
  std::string_view dest = ctx.args[2];
  if (max_len == 0) {
    if (ctx.db.Erase(dest)) ctx.PropagateAsIs();
    ctx.reply.Integer(0);
    return;
  }
  auto byte_of = [](std::string_view s, size_t i) -> uint8_t {
    return i < s.size() ? static_cast<uint8_t>(s[i]) : 0;
  };
  std::string result(max_len, '\0');
  for (size_t i = 0; i < max_len; ++i) {
    uint8_t acc = byte_of(sources[0], i);
    if (op == BitOp::kNot) acc = static_cast<uint8_t>(~acc);
    for (size_t k = 1; k < sources.size(); ++k) {
      const uint8_t b = byte_of(sources[k], i);
      switch (op) {
        case BitOp::kAnd:
          acc &= b;
          break;
        case BitOp::kOr:
          acc |= b;
          break;
        case BitOp::kXor:
          acc ^= b;
          break;
        case BitOp::kNot:
          break;
      }
    }
    result[i] = static_cast<char>(acc);
  }
  // The sources are views into the keyspace: store only after computing.
  ctx.db.Set(dest, Object::String(std::move(result)));
  ctx.PropagateAsIs();
  ctx.reply.Integer(static_cast<int64_t>(max_len));
}

const CommandSpec kBitCommands[] = {
    {"setbit", 4, kCmdWrite | kCmdDenyOom, 1, 1, 1, "bitmap",
     "Sets or clears the bit at offset in the string value stored at key", "2.2.0", SetBitCommand},
    {"getbit", 3, kCmdReadOnly | kCmdFast, 1, 1, 1, "bitmap",
     "Returns the bit value at offset in the string value stored at key", "2.2.0", GetBitCommand},
    {"bitcount", -2, kCmdReadOnly, 1, 1, 1, "bitmap", "Count set bits in a string", "2.6.0",
     BitCountCommand},
    {"bitpos", -3, kCmdReadOnly, 1, 1, 1, "bitmap", "Find first bit set or clear in a string",
     "2.8.7", BitPosCommand},
    {"bitop", -4, kCmdWrite | kCmdDenyOom, 2, -1, 1, "bitmap",
     "Perform bitwise operations between strings", "2.6.0", BitOpCommand},
};

}  // namespace

std::span<const CommandSpec> BitCommands() { return kBitCommands; }

}  // namespace tandem::kv
