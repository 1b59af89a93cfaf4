#include "server/server_command.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "util/name_index.h"

namespace tandem::server {

std::span<const ServerCommand> AllServerCommands() {
  static const std::vector<ServerCommand> all = [] {
    std::vector<ServerCommand> v;
    for (auto group : {ConnectionCommands(), AdminCommands(), IntrospectionCommands(),
                       ReplicationCommands()}) {
      v.insert(v.end(), group.begin(), group.end());
    }
    return v;
  }();
  return all;
}

const ServerCommand* FindServerCommand(std::string_view name) {
  static const NameIndex<ServerCommand> by_name = [] {
    NameIndex<ServerCommand> m;
    for (const auto& c : AllServerCommands()) m.Add(c.spec.name, &c);
    return m;
  }();
  return by_name.Find(name);
}

void ReplyArityError(resp::Writer& reply, std::string_view name) {
  reply.Error(fmt::format("ERR wrong number of arguments for '{}' command", name));
}

void ReplyHelp(resp::Writer& reply, std::span<const std::string_view> lines) {
  reply.ArrayHeader(static_cast<int64_t>(lines.size()));
  for (auto line : lines) reply.SimpleString(line);
}

void ReplyUnknownSubcommand(resp::Writer& reply, std::string_view sub, std::string_view cmd) {
  reply.Error(fmt::format("ERR unknown subcommand '{:.128}'. Try {} HELP.", sub, cmd));
}

}  // namespace tandem::server
