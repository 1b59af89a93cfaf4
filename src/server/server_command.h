// Server-level commands: the ones that act on the connection or the process
// rather than the keyspace (PING, HELLO, CLIENT, CONFIG, INFO, SAVE, ...).
// Data commands live in kv/; Dispatch looks in both tables.
#pragma once

#include <span>
#include <string_view>

#include "kv/command.h"
#include "resp/writer.h"

namespace tandem::server {

class Server;
struct Client;

using ServerHandler = void (*)(Server&, Client&, std::span<const std::string_view> args,
                               resp::Writer& reply);

struct ServerCommand {
  kv::CommandSpec spec;  // metadata; spec.handler is unused (nullptr)
  ServerHandler handler;
};

const ServerCommand* FindServerCommand(std::string_view name);
std::span<const ServerCommand> AllServerCommands();

// Per-group tables, each in its own file.
std::span<const ServerCommand> ConnectionCommands();  // connection_commands.cc
std::span<const ServerCommand> AdminCommands();       // admin_commands.cc
std::span<const ServerCommand> IntrospectionCommands();  // introspection_commands.cc
std::span<const ServerCommand> ReplicationCommands();  // replication_commands.cc

// "ERR wrong number of arguments for 'x' command" with x as Redis names it
// (lower-case, "client|setname" for subcommands).
void ReplyArityError(resp::Writer& reply, std::string_view name);
// A HELP subcommand's reply: one simple string per line.
void ReplyHelp(resp::Writer& reply, std::span<const std::string_view> lines);
// "ERR unknown subcommand 'x'. Try CMD HELP."
void ReplyUnknownSubcommand(resp::Writer& reply, std::string_view sub, std::string_view cmd);

}  // namespace tandem::server
