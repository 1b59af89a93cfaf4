#include "server/server_command.h"

#include <fmt/format.h>

#include <string>
#include <unordered_map>
#include <vector>

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
  static const std::unordered_map<std::string, const ServerCommand*> by_name = [] {
    std::unordered_map<std::string, const ServerCommand*> m;
    for (const auto& c : AllServerCommands()) m.emplace(std::string(c.spec.name), &c);
    return m;
  }();
  char lower[32];
  if (name.size() >= sizeof(lower)) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    lower[i] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  }
  auto it = by_name.find(std::string(lower, name.size()));
  return it == by_name.end() ? nullptr : it->second;
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
