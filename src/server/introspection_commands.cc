// COMMAND and its subcommands (COUNT INFO DOCS LIST GETKEYS HELP), enough
// for redis-cli's hints and client libraries' command discovery.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "kv/glob.h"
#include "server/client.h"
#include "server/server.h"
#include "server/server_command.h"

namespace tandem::server {
namespace {

using Args = std::span<const std::string_view>;
using kv::CommandSpec;
using kv::EqualsIgnoreCase;

std::vector<const CommandSpec*> AllSpecs() {
  std::vector<const CommandSpec*> all;
  for (const auto& c : AllServerCommands()) all.push_back(&c.spec);
  for (const auto& c : kv::AllDataCommands()) all.push_back(&c);
  return all;
}

const CommandSpec* FindSpec(std::string_view name) {
  if (const ServerCommand* sc = FindServerCommand(name)) return &sc->spec;
  return kv::FindDataCommand(name);
}

void WriteFlags(const CommandSpec& spec, resp::Writer& w) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {kv::kCmdWrite, "write"},     {kv::kCmdReadOnly, "readonly"}, {kv::kCmdDenyOom, "denyoom"},
      {kv::kCmdAdmin, "admin"},     {kv::kCmdNoScript, "noscript"}, {kv::kCmdLoading, "loading"},
      {kv::kCmdStale, "stale"},     {kv::kCmdFast, "fast"},         {kv::kCmdNoAuth, "no_auth"},
  };
  std::vector<std::string_view> names;
  for (auto [bit, name] : kNames) {
    if (spec.flags & bit) names.push_back(name);
  }
  w.SetHeader(static_cast<int64_t>(names.size()));
  for (auto n : names) w.SimpleString(n);
}

void WriteCategories(const CommandSpec& spec, resp::Writer& w) {
  std::vector<std::string> cats;
  cats.push_back(fmt::format("@{}", spec.group == "generic" ? "keyspace" : spec.group));
  if (spec.flags & kv::kCmdWrite) cats.push_back("@write");
  if (spec.flags & kv::kCmdReadOnly) cats.push_back("@read");
  if (spec.flags & kv::kCmdFast) cats.push_back("@fast");
  else cats.push_back("@slow");
  if (spec.flags & kv::kCmdAdmin) cats.push_back("@admin");
  w.SetHeader(static_cast<int64_t>(cats.size()));
  for (auto& c : cats) w.SimpleString(c);
}

// One COMMAND INFO entry, Redis 7 layout (10 fields).
void WriteCommandInfo(const CommandSpec& spec, resp::Writer& w) {
  w.ArrayHeader(10);
  w.Bulk(spec.name);
  w.Integer(spec.arity);
  WriteFlags(spec, w);
  w.Integer(spec.first_key);
  w.Integer(spec.last_key);
  w.Integer(spec.key_step);
  WriteCategories(spec, w);
  w.ArrayHeader(0);  // tips
  if (spec.first_key > 0) {
    // One key spec describing the range: begin_search index, find_keys range.
    w.ArrayHeader(1);
    w.MapHeader(4);
    w.Bulk("flags");
    w.SetHeader(0);
    w.Bulk("begin_search");
    w.MapHeader(2);
    w.Bulk("type");
    w.Bulk("index");
    w.Bulk("spec");
    w.MapHeader(1);
    w.Bulk("index");
    w.Integer(spec.first_key);
    w.Bulk("find_keys");
    w.MapHeader(2);
    w.Bulk("type");
    w.Bulk("range");
    w.Bulk("spec");
    w.MapHeader(3);
    w.Bulk("lastkey");
    w.Integer(spec.last_key >= 0 ? spec.last_key - spec.first_key : spec.last_key);
    w.Bulk("keystep");
    w.Integer(spec.key_step);
    w.Bulk("limit");
    w.Integer(0);
    w.Bulk("notes");
    w.Bulk("");
  } else {
    w.ArrayHeader(0);
  }
  w.ArrayHeader(0);  // subcommands
}

void WriteCommandDocs(const CommandSpec& spec, resp::Writer& w) {
  w.Bulk(spec.name);
  w.MapHeader(3);
  w.Bulk("summary");
  w.Bulk(spec.summary);
  w.Bulk("since");
  w.Bulk(spec.since);
  w.Bulk("group");
  w.Bulk(spec.group);
}

void Command(Server&, Client&, Args args, resp::Writer& w) {
  if (args.size() == 1) {
    auto all = AllSpecs();
    w.ArrayHeader(static_cast<int64_t>(all.size()));
    for (const auto* spec : all) WriteCommandInfo(*spec, w);
    return;
  }
  std::string_view sub = args[1];
  if (EqualsIgnoreCase(sub, "COUNT")) {
    if (args.size() != 2) return ReplyArityError(w, "command|count");
    w.Integer(static_cast<int64_t>(AllSpecs().size()));
  } else if (EqualsIgnoreCase(sub, "INFO")) {
    if (args.size() == 2) {
      auto all = AllSpecs();
      w.ArrayHeader(static_cast<int64_t>(all.size()));
      for (const auto* spec : all) WriteCommandInfo(*spec, w);
      return;
    }
    w.ArrayHeader(static_cast<int64_t>(args.size() - 2));
    for (size_t i = 2; i < args.size(); ++i) {
      const CommandSpec* spec = FindSpec(args[i]);
      if (spec) WriteCommandInfo(*spec, w);
      else w.NullArray();
    }
  } else if (EqualsIgnoreCase(sub, "DOCS")) {
    std::vector<const CommandSpec*> specs;
    if (args.size() == 2) {
      specs = AllSpecs();
    } else {
      for (size_t i = 2; i < args.size(); ++i) {
        if (const CommandSpec* spec = FindSpec(args[i])) specs.push_back(spec);
      }
    }
    w.MapHeader(static_cast<int64_t>(specs.size()));
    for (const auto* spec : specs) WriteCommandDocs(*spec, w);
  } else if (EqualsIgnoreCase(sub, "LIST")) {
    std::string_view pattern;
    if (args.size() == 5 && EqualsIgnoreCase(args[2], "FILTERBY") &&
        EqualsIgnoreCase(args[3], "PATTERN")) {
      pattern = args[4];
    } else if (args.size() != 2) {
      return w.Error("ERR syntax error");
    }
    std::vector<std::string_view> names;
    for (const auto* spec : AllSpecs()) {
      if (pattern.empty() || kv::GlobMatch(pattern, spec->name, true)) names.push_back(spec->name);
    }
    w.ArrayHeader(static_cast<int64_t>(names.size()));
    for (auto n : names) w.Bulk(n);
  } else if (EqualsIgnoreCase(sub, "GETKEYS")) {
    if (args.size() < 3) return ReplyArityError(w, "command|getkeys");
    const CommandSpec* spec = FindSpec(args[2]);
    if (!spec) return w.Error("ERR Invalid command specified");
    int argc = static_cast<int>(args.size() - 2);
    if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity)) {
      return w.Error("ERR Invalid number of arguments specified for command");
    }
    if (spec->first_key <= 0) return w.Error("ERR The command has no key arguments");
    int last = spec->last_key < 0 ? argc + spec->last_key : spec->last_key;
    std::vector<std::string_view> keys;
    for (int i = spec->first_key; i <= last && i < argc; i += spec->key_step) {
      keys.push_back(args[2 + i]);
    }
    w.ArrayHeader(static_cast<int64_t>(keys.size()));
    for (auto k : keys) w.Bulk(k);
  } else if (EqualsIgnoreCase(sub, "HELP")) {
    static constexpr std::string_view kHelp[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST [FILTERBY PATTERN <pattern>]", "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]", "    Return details about the given commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about the given commands.",
        "GETKEYS <full-command>", "    Return the keys from a full command.",
        "HELP", "    Print this help."};
    ReplyHelp(w, kHelp);
  } else {
    ReplyUnknownSubcommand(w, sub, "COMMAND");
  }
}

const ServerCommand kCommands[] = {
    {{"command", -1, kv::kCmdLoading | kv::kCmdStale, 0, 0, 0, "server", "Returns detailed information about all commands.", "2.8.13", nullptr}, Command},
};

}  // namespace

std::span<const ServerCommand> IntrospectionCommands() { return kCommands; }

}  // namespace tandem::server
