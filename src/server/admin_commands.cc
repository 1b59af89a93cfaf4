// Process and administration commands: INFO CONFIG TIME SAVE BGSAVE
// LASTSAVE SHUTDOWN DEBUG (WAIT is in replication_commands.cc).
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "server/client.h"
#include "server/info.h"
#include "server/server.h"
#include "server/server_command.h"

namespace tandem::server {
namespace {

using Args = std::span<const std::string_view>;
using kv::EqualsIgnoreCase;

void Info(Server& s, Client& c, Args args, resp::Writer& w) {
  std::vector<std::string_view> sections(args.begin() + 1, args.end());
  w.Verbatim(BuildInfo(s, sections));
}

void ConfigCmd(Server& s, Client& c, Args args, resp::Writer& w) {
  std::string_view sub = args[1];
  if (EqualsIgnoreCase(sub, "GET")) {
    if (args.size() < 3) return ReplyArityError(w, "config|get");
    std::vector<std::string_view> patterns(args.begin() + 2, args.end());
    auto pairs = s.runtime_config().Get(patterns);
    w.MapHeader(static_cast<int64_t>(pairs.size()));
    for (auto& [name, value] : pairs) {
      w.Bulk(name);
      w.Bulk(value);
    }
  } else if (EqualsIgnoreCase(sub, "SET")) {
    if (args.size() < 4 || args.size() % 2 != 0) return ReplyArityError(w, "config|set");
    std::vector<std::pair<std::string_view, std::string_view>> pairs;
    for (size_t i = 2; i + 1 < args.size(); i += 2) pairs.emplace_back(args[i], args[i + 1]);
    Status st = s.runtime_config().Set(pairs);
    if (!st.ok()) return w.Error(st.message());
    w.Ok();
  } else if (EqualsIgnoreCase(sub, "RESETSTAT")) {
    if (args.size() != 2) return ReplyArityError(w, "config|resetstat");
    w.Ok();
  } else if (EqualsIgnoreCase(sub, "REWRITE")) {
    if (args.size() != 2) return ReplyArityError(w, "config|rewrite");
    w.Error("ERR CONFIG REWRITE is not supported: Tandem's configuration comes from its flags "
            "and --config file, which it never rewrites");
  } else if (EqualsIgnoreCase(sub, "HELP")) {
    static constexpr std::string_view kHelp[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "HELP", "    Print this help."};
    ReplyHelp(w, kHelp);
  } else {
    ReplyUnknownSubcommand(w, sub, "CONFIG");
  }
}

void Time(Server& s, Client&, Args, resp::Writer& w) {
  using namespace std::chrono;
  int64_t us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  w.ArrayHeader(2);
  w.Bulk(std::to_string(us / 1000000));
  w.Bulk(std::to_string(us % 1000000));
}

void Save(Server& s, Client&, Args, resp::Writer& w) {
  Status st = s.SaveSnapshot();
  if (st.IsBusy()) return w.Error("ERR Background save already in progress");
  if (!st.ok()) return w.Error("ERR " + st.ToString());
  w.Ok();
}

void BgSave(Server& s, Client&, Args args, resp::Writer& w) {
  bool schedule = args.size() == 2 && EqualsIgnoreCase(args[1], "SCHEDULE");
  if (args.size() > 2 || (args.size() == 2 && !schedule)) return w.Error("ERR syntax error");
  if (s.snapshotter().in_progress()) {
    if (schedule) return w.SimpleString("Background saving scheduled");
    return w.Error("ERR Background save already in progress");
  }
  Status st = s.StartBackgroundSnapshot();
  if (!st.ok()) return w.Error("ERR " + st.ToString());
  w.SimpleString("Background saving started");
}

void LastSave(Server& s, Client&, Args, resp::Writer& w) {
  w.Integer(s.snapshotter().last_success_unix_ms() / 1000);
}

void Shutdown(Server& s, Client& c, Args args, resp::Writer& w) {
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (!EqualsIgnoreCase(a, "NOSAVE") && !EqualsIgnoreCase(a, "SAVE") &&
        !EqualsIgnoreCase(a, "NOW") && !EqualsIgnoreCase(a, "FORCE") &&
        !EqualsIgnoreCase(a, "ABORT")) {
      return w.Error("ERR syntax error");
    }
    if (EqualsIgnoreCase(a, "ABORT")) return w.Error("ERR No shutdown in progress.");
  }
  // Like Redis, a successful SHUTDOWN sends no reply: the connection closes.
  c.close_after_reply = true;
  s.RequestShutdown("SHUTDOWN command");
}

void Debug(Server& s, Client& c, Args args, resp::Writer& w) {
  std::string_view sub = args[1];
  if (EqualsIgnoreCase(sub, "DIGEST")) {
    w.SimpleString(s.state_machine().Digest());
  } else if (EqualsIgnoreCase(sub, "SLEEP") && args.size() == 3) {
    double secs;
    if (!kv::ParseDouble(args[2], &secs) || secs < 0) return w.Error("ERR value is not a valid float");
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(secs * 1e6)));
    w.Ok();
  } else if (EqualsIgnoreCase(sub, "JOURNAL")) {
    // Test hook: the journal's indexes, "last durable".
    w.ArrayHeader(2);
    w.Integer(static_cast<int64_t>(s.journal().last_index()));
    w.Integer(static_cast<int64_t>(s.journal().durable_index()));
  } else if (EqualsIgnoreCase(sub, "HELP")) {
    static constexpr std::string_view kHelp[] = {
        "DEBUG DIGEST: a hex digest of the whole keyspace (equal on equal replicas).",
        "DEBUG SLEEP <seconds>: block the server (for tests).",
        "DEBUG JOURNAL: last appended and last durable log index.",
        "DEBUG HELP: this text."};
    ReplyHelp(w, kHelp);
  } else {
    ReplyUnknownSubcommand(w, sub, "DEBUG");
  }
}

using kv::kCmdAdmin;
using kv::kCmdLoading;
using kv::kCmdNoScript;
using kv::kCmdStale;

const ServerCommand kCommands[] = {
    {{"info", -1, kCmdLoading | kCmdStale, 0, 0, 0, "server", "Returns information and statistics about the server.", "1.0.0", nullptr}, Info},
    {{"config", -2, kCmdAdmin | kCmdLoading | kCmdStale, 0, 0, 0, "server", "A container for server configuration commands.", "2.0.0", nullptr}, ConfigCmd},
    {{"time", 1, kv::kCmdFast | kCmdLoading | kCmdStale, 0, 0, 0, "server", "Returns the server time.", "2.6.0", nullptr}, Time},
    {{"save", 1, kCmdAdmin | kCmdNoScript, 0, 0, 0, "server", "Synchronously saves the database to disk.", "1.0.0", nullptr}, Save},
    {{"bgsave", -1, kCmdAdmin | kCmdNoScript, 0, 0, 0, "server", "Asynchronously saves the database to disk.", "1.0.0", nullptr}, BgSave},
    {{"lastsave", 1, kv::kCmdFast | kCmdLoading | kCmdStale, 0, 0, 0, "server", "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", nullptr}, LastSave},
    {{"shutdown", -1, kCmdAdmin | kCmdLoading | kCmdStale | kCmdNoScript, 0, 0, 0, "server", "Synchronously saves the database(s) to disk and shuts down the server.", "1.0.0", nullptr}, Shutdown},
    {{"debug", -2, kCmdAdmin | kCmdLoading | kCmdStale | kCmdNoScript, 0, 0, 0, "server", "A container for debugging commands.", "1.0.0", nullptr}, Debug},
};

}  // namespace

std::span<const ServerCommand> AdminCommands() { return kCommands; }

}  // namespace tandem::server
