// Data commands: the table entry every command has, and the context a
// handler runs in.
//
// Determinism contract. A handler runs in one of three modes:
//  - kLeader: a client's command on the node that takes writes. Lookups
//    apply lazy expiry: an expired key is erased and a DEL is propagated
//    before the command's own effect. Every state change the handler makes
//    must be described by what it propagates, rewritten so that replaying
//    it is deterministic (relative times become absolute: SET ... PXAT,
//    PEXPIREAT; INCRBYFLOAT becomes SET ... KEEPTTL; an expiry in the past
//    becomes DEL). A handler that changes nothing propagates nothing.
//  - kApply: replaying a propagated command from the log (followers,
//    recovery). Lookups never expire anything: a key lives until a logged
//    DEL removes it. The reply is discarded and nothing is propagated.
//  - kReplicaRead: a client's read on a follower. Keys whose expiry has
//    passed are hidden (reported absent) but not erased. Write commands are
//    never run in this mode.
// Applying, in kApply mode, what a kLeader run propagated must leave the
// keyspace exactly as the kLeader run left it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/keyspace.h"
#include "resp/writer.h"

namespace tandem::kv {

enum class ExecMode { kLeader, kApply, kReplicaRead };

// Command flags, as COMMAND INFO reports them.
enum CommandFlag : uint32_t {
  kCmdWrite = 1 << 0,     // may change the keyspace
  kCmdReadOnly = 1 << 1,  // never changes the keyspace (lazy expiry aside)
  kCmdFast = 1 << 2,      // O(1) or O(log n)
  kCmdDenyOom = 1 << 3,   // may grow memory
  kCmdAdmin = 1 << 4,
  kCmdNoAuth = 1 << 5,  // allowed before AUTH
  kCmdLoading = 1 << 6,
  kCmdStale = 1 << 7,
  kCmdNoScript = 1 << 8,
};

// One propagated command: its arguments, argv[0] the command name.
using Argv = std::vector<std::string>;

class CommandContext;
using CommandHandler = void (*)(CommandContext&);

struct CommandSpec {
  std::string_view name;              // lower case
  int arity;                          // Redis convention: n = exactly n args (with the
                                      // name), -n = at least n
  uint32_t flags;                     // CommandFlag bits
  int first_key, last_key, key_step;  // key positions, as COMMAND INFO
  std::string_view group;             // "string", "hash", "generic", "bitmap", ...
  std::string_view summary;           // one line, for COMMAND DOCS
  std::string_view since;             // Redis version that introduced it
  CommandHandler handler;
};

class CommandContext {
 public:
  CommandContext(std::span<const std::string_view> args, resp::Writer& reply, Keyspace& db,
                 int64_t now_ms, ExecMode mode, uint64_t random_seed, std::vector<Argv>* propagated)
      : args(args),
        reply(reply),
        db(db),
        now_ms(now_ms),
        mode(mode),
        rng_state_(random_seed),
        propagated_(propagated) {}

  std::span<const std::string_view> args;  // args[0] is the command name as sent
  resp::Writer& reply;
  Keyspace& db;
  const int64_t now_ms;  // Unix ms: the leader's clock, or the record's time
  const ExecMode mode;

  // The value under key as this mode sees it (see the contract above);
  // nullptr when absent. Records the access for OBJECT IDLETIME/FREQ.
  Object* Lookup(std::string_view key);
  // As Lookup, without recording an access (OBJECT, TYPE-like peeks).
  Object* Peek(std::string_view key);
  // True when key exists as this mode sees it, without touching it.
  bool Exists(std::string_view key);
  // Whether a key with this absolute expiry counts as expired now.
  bool IsExpired(int64_t expire_at) const { return ExpiredAt(expire_at, now_ms); }

  // Records a command for the log (kLeader only; ignored otherwise).
  void Propagate(Argv argv);
  // Propagates the command exactly as received.
  void PropagateAsIs();
  // Whether this run must describe its changes (kLeader).
  bool propagating() const { return mode == ExecMode::kLeader && propagated_ != nullptr; }

  // A pseudo-random 64-bit value (HRANDFIELD, RANDOMKEY). Seeded per run,
  // so reads may differ between nodes but never the keyspace.
  uint64_t Random();

  // Standard error replies with Redis's texts.
  void ReplyWrongType();    // WRONGTYPE Operation against a key holding the wrong kind of value
  void ReplySyntaxError();  // ERR syntax error
  void ReplyNotInteger();   // ERR value is not an integer or out of range
  void ReplyNotFloat();     // ERR value is not a valid float
  void ReplyError(std::string_view msg) { reply.Error(msg); }

 private:
  // Lookup (touch_ms = now_ms) and Peek (touch_ms = -1).
  Object* Resolve(std::string_view key, int64_t touch_ms);

  uint64_t rng_state_;
  std::vector<Argv>* propagated_;
};

// The data-command table (every group below), looked up case-insensitively.
const CommandSpec* FindDataCommand(std::string_view name);
std::span<const CommandSpec> AllDataCommands();

// Per-group tables; each lives in its *_commands.cc.
std::span<const CommandSpec> StringCommands();
std::span<const CommandSpec> BitCommands();
std::span<const CommandSpec> KeyspaceCommands();
std::span<const CommandSpec> HashCommands();

// Argument parsing helpers with Redis's rules (no leading '+' or spaces,
// no overflow; floats reject NaN).
bool ParseInt64(std::string_view s, int64_t* out);
bool ParseDouble(std::string_view s, double* out);
// Long double variant (INCRBYFLOAT, HINCRBYFLOAT), same rules.
bool ParseLongDouble(std::string_view s, long double* out);
// Redis's "human" long double format (INCRBYFLOAT, HINCRBYFLOAT results):
// "%.17Lf" with trailing zeros (and a trailing '.') removed, "-0" -> "0".
// The caller must have rejected NaN and infinities.
std::string FormatLongDoubleHuman(long double v);
// Redis's case-insensitive equality for option names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace tandem::kv
