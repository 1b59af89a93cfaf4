// Connection commands: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "server/client.h"
#include "server/server.h"
#include "server/server_command.h"

namespace tandem::server {
namespace {

using Args = std::span<const std::string_view>;
using kv::EqualsIgnoreCase;

constexpr std::string_view kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

void Ping(Server&, Client& c, Args args, resp::Writer& w) {
  if (args.size() > 2) return ReplyArityError(w, "ping");
  if (args.size() == 2) return w.Bulk(args[1]);
  w.SimpleString("PONG");
}

void Echo(Server&, Client&, Args args, resp::Writer& w) { w.Bulk(args[1]); }

// Checks a password against requirepass; Redis accepts any password when
// none is configured only through HELLO (AUTH then errors).
bool PasswordMatches(Server& s, std::string_view user, std::string_view pass) {
  return user == "default" && !s.requirepass().empty() && pass == s.requirepass();
}

void Auth(Server& s, Client& c, Args args, resp::Writer& w) {
  if (args.size() > 3) return w.Error("ERR syntax error");
  std::string_view user = args.size() == 3 ? args[1] : "default";
  std::string_view pass = args.back();
  if (s.requirepass().empty() && args.size() == 2) {
    return w.Error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
  }
  if (!PasswordMatches(s, user, pass)) return w.Error(kWrongPass);
  c.authenticated = true;
  w.Ok();
}

bool ValidClientName(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char ch) { return ch > ' ' && ch <= '~'; });
}

void WriteHelloReply(Server& s, Client& c, resp::Writer& w) {
  w.MapHeader(7);
  w.Bulk("server");
  w.Bulk("redis");
  w.Bulk("version");
  w.Bulk("7.0.0");
  w.Bulk("proto");
  w.Integer(static_cast<int>(c.protocol));
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(c.id));
  w.Bulk("mode");
  w.Bulk("standalone");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.ArrayHeader(0);
}

void Hello(Server& s, Client& c, Args args, resp::Writer& w) {
  int64_t version = static_cast<int64_t>(c.protocol);
  size_t i = 1;
  if (args.size() >= 2) {
    if (!kv::ParseInt64(args[1], &version)) {
      return w.Error("ERR Protocol version is not an integer or out of range");
    }
    if (version < 2 || version > 3) return w.Error("NOPROTO unsupported protocol version");
    i = 2;
  }
  std::string_view setname;
  bool has_setname = false;
  for (; i < args.size(); ++i) {
    size_t more = args.size() - i - 1;
    if (EqualsIgnoreCase(args[i], "AUTH") && more >= 2) {
      if (!PasswordMatches(s, args[i + 1], args[i + 2])) {
        if (s.requirepass().empty() && args[i + 1] == "default") {
          // No password configured: any password authenticates, as in Redis.
        } else {
          return w.Error(kWrongPass);
        }
      }
      c.authenticated = true;
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "SETNAME") && more >= 1) {
      setname = args[i + 1];
      has_setname = true;
      ++i;
    } else {
      return w.Error(fmt::format("ERR Syntax error in HELLO option '{}'", args[i]));
    }
  }
  if (!s.requirepass().empty() && !c.authenticated) {
    return w.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise "
                   "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                   "client and select the RESP protocol version at the same time");
  }
  if (has_setname) {
    if (!ValidClientName(setname)) {
      return w.Error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    c.name = std::string(setname);
  }
  c.protocol = version == 3 ? resp::Protocol::kResp3 : resp::Protocol::kResp2;
  w.set_protocol(c.protocol);
  WriteHelloReply(s, c, w);
}

void Select(Server&, Client&, Args args, resp::Writer& w) {
  int64_t db;
  if (!kv::ParseInt64(args[1], &db)) return w.Error("ERR value is not an integer or out of range");
  if (db != 0) return w.Error("ERR DB index is out of range");
  w.Ok();
}

void Quit(Server&, Client& c, Args, resp::Writer& w) {
  c.close_after_reply = true;
  w.Ok();
}

void Reset(Server& s, Client& c, Args, resp::Writer& w) {
  c.protocol = resp::Protocol::kResp2;
  w.set_protocol(c.protocol);
  c.name.clear();
  c.authenticated = s.requirepass().empty();
  w.SimpleString("RESET");
}

}  // namespace

// CLIENT LIST / CLIENT INFO line, in Redis 7.0's field order.
std::string ClientInfoLine(const Server& s, const Client& c, int64_t now_ms) {
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 "
      "multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl={} oll=0 omem=0 "
      "tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
      c.id, c.addr, c.laddr, c.fd, c.name, (now_ms - c.created_ms) / 1000,
      (now_ms - c.last_interaction_ms) / 1000, c.query_buffer_bytes, c.out.size(),
      c.out.capacity() + c.query_buffer_bytes + sizeof(Client), c.last_command,
      static_cast<int>(c.protocol), c.lib_name, c.lib_ver);
}

namespace {

void ClientList(Server& s, Client& c, Args args, resp::Writer& w) {
  std::vector<uint64_t> ids;
  for (size_t i = 2; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "TYPE") && i + 1 < args.size()) {
      std::string_view t = args[++i];
      if (!EqualsIgnoreCase(t, "normal") && !EqualsIgnoreCase(t, "master") &&
          !EqualsIgnoreCase(t, "replica") && !EqualsIgnoreCase(t, "slave") &&
          !EqualsIgnoreCase(t, "pubsub")) {
        return w.Error(fmt::format("ERR Unknown client type '{}'", t));
      }
      if (!EqualsIgnoreCase(t, "normal")) return w.Verbatim("");
    } else if (EqualsIgnoreCase(args[i], "ID") && i + 1 < args.size()) {
      for (++i; i < args.size(); ++i) {
        int64_t id;
        if (!kv::ParseInt64(args[i], &id) || id <= 0) return w.Error("ERR Invalid client ID");
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      return w.Error("ERR syntax error");
    }
  }
  std::string out;
  int64_t now = s.clock().NowUnixMs();
  for (const auto& [id, client] : s.clients()) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
    out += ClientInfoLine(s, *client, now);
  }
  w.Verbatim(out);
}

void ClientKill(Server& s, Client& c, Args args, resp::Writer& w) {
  // CLIENT KILL addr:port (old form) or CLIENT KILL <filter> <value> ...
  if (args.size() == 3) {
    for (const auto& [id, client] : s.clients()) {
      if (client->addr == args[2]) {
        client->Kill();
        return w.Ok();
      }
    }
    return w.Error("ERR No such client");
  }
  if (args.size() % 2 != 0) return w.Error("ERR syntax error");
  std::optional<uint64_t> id;
  std::string_view addr, laddr;
  bool skipme = true;
  for (size_t i = 2; i + 1 < args.size(); i += 2) {
    std::string_view key = args[i], val = args[i + 1];
    if (EqualsIgnoreCase(key, "ID")) {
      int64_t v;
      if (!kv::ParseInt64(val, &v) || v <= 0) return w.Error("ERR client-id should be greater than 0");
      id = static_cast<uint64_t>(v);
    } else if (EqualsIgnoreCase(key, "ADDR")) {
      addr = val;
    } else if (EqualsIgnoreCase(key, "LADDR")) {
      laddr = val;
    } else if (EqualsIgnoreCase(key, "SKIPME")) {
      if (EqualsIgnoreCase(val, "yes")) skipme = true;
      else if (EqualsIgnoreCase(val, "no")) skipme = false;
      else return w.Error("ERR syntax error");
    } else if (EqualsIgnoreCase(key, "TYPE") || EqualsIgnoreCase(key, "USER") ||
               EqualsIgnoreCase(key, "MAXAGE")) {
      // Accepted; every client is a normal client of the default user.
    } else {
      return w.Error("ERR syntax error");
    }
  }
  std::vector<Client*> victims;
  for (const auto& [cid, client] : s.clients()) {
    if (id && cid != *id) continue;
    if (!addr.empty() && client->addr != addr) continue;
    if (!laddr.empty() && client->laddr != laddr) continue;
    if (skipme && client == &c) continue;
    victims.push_back(client);
  }
  for (Client* v : victims) v->Kill();
  w.Integer(static_cast<int64_t>(victims.size()));
}

void ClientCmd(Server& s, Client& c, Args args, resp::Writer& w) {
  std::string_view sub = args[1];
  auto need = [&](size_t n, std::string_view name) {
    if (args.size() != n) {
      ReplyArityError(w, name);
      return false;
    }
    return true;
  };
  if (EqualsIgnoreCase(sub, "ID")) {
    if (need(2, "client|id")) w.Integer(static_cast<int64_t>(c.id));
  } else if (EqualsIgnoreCase(sub, "SETNAME")) {
    if (!need(3, "client|setname")) return;
    if (!ValidClientName(args[2])) {
      return w.Error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    c.name = std::string(args[2]);
    w.Ok();
  } else if (EqualsIgnoreCase(sub, "GETNAME")) {
    if (!need(2, "client|getname")) return;
    if (c.name.empty()) w.Null();
    else w.Bulk(c.name);
  } else if (EqualsIgnoreCase(sub, "LIST")) {
    ClientList(s, c, args, w);
  } else if (EqualsIgnoreCase(sub, "INFO")) {
    if (need(2, "client|info")) w.Verbatim(ClientInfoLine(s, c, s.clock().NowUnixMs()));
  } else if (EqualsIgnoreCase(sub, "KILL")) {
    if (args.size() < 3) return ReplyArityError(w, "client|kill");
    ClientKill(s, c, args, w);
  } else if (EqualsIgnoreCase(sub, "SETINFO")) {
    if (!need(4, "client|setinfo")) return;
    if (!ValidClientName(args[3])) {
      return w.Error(fmt::format(
          "ERR {} cannot contain spaces, newlines or special characters.", args[2]));
    }
    if (EqualsIgnoreCase(args[2], "LIB-NAME")) c.lib_name = std::string(args[3]);
    else if (EqualsIgnoreCase(args[2], "LIB-VER")) c.lib_ver = std::string(args[3]);
    else return w.Error(fmt::format("ERR Unrecognized option '{}'", args[2]));
    w.Ok();
  } else if (EqualsIgnoreCase(sub, "NO-EVICT") || EqualsIgnoreCase(sub, "NO-TOUCH")) {
    if (!need(3, EqualsIgnoreCase(sub, "NO-EVICT") ? "client|no-evict" : "client|no-touch")) return;
    if (!EqualsIgnoreCase(args[2], "on") && !EqualsIgnoreCase(args[2], "off")) {
      return w.Error("ERR syntax error");
    }
    w.Ok();
  } else if (EqualsIgnoreCase(sub, "HELP")) {
    static constexpr std::string_view kHelp[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>|<option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are ID, ADDR, LADDR, SKIPME (yes|no).",
        "LIST [TYPE normal|master|replica|pubsub] [ID <id> [...]]",
        "    Return information about client connections.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>", "    Record the client library's name or version.",
        "HELP", "    Print this help."};
    ReplyHelp(w, kHelp);
  } else {
    ReplyUnknownSubcommand(w, sub, "CLIENT");
  }
}

using kv::kCmdFast;
using kv::kCmdLoading;
using kv::kCmdNoAuth;
using kv::kCmdStale;
constexpr uint32_t kConn = kCmdFast | kCmdLoading | kCmdStale;

const ServerCommand kCommands[] = {
    {{"ping", -1, kConn, 0, 0, 0, "connection", "Returns the server's liveliness response.", "1.0.0", nullptr}, Ping},
    {{"echo", 2, kConn, 0, 0, 0, "connection", "Returns the given string.", "1.0.0", nullptr}, Echo},
    {{"hello", -1, kConn | kCmdNoAuth, 0, 0, 0, "connection", "Handshakes with the server.", "6.0.0", nullptr}, Hello},
    {{"auth", -2, kConn | kCmdNoAuth, 0, 0, 0, "connection", "Authenticates the connection.", "1.0.0", nullptr}, Auth},
    {{"select", 2, kConn, 0, 0, 0, "connection", "Changes the selected database (only 0 exists).", "1.0.0", nullptr}, Select},
    {{"quit", -1, kConn | kCmdNoAuth, 0, 0, 0, "connection", "Closes the connection.", "1.0.0", nullptr}, Quit},
    {{"reset", 1, kConn | kCmdNoAuth, 0, 0, 0, "connection", "Resets the connection.", "6.2.0", nullptr}, Reset},
    {{"client", -2, kCmdLoading | kCmdStale, 0, 0, 0, "connection", "A container for client connection commands.", "2.4.0", nullptr}, ClientCmd},
};

}  // namespace

std::span<const ServerCommand> ConnectionCommands() { return kCommands; }

}  // namespace tandem::server
