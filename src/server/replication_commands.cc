// Replication commands: ROLE WAIT FAILOVER SENTINEL — Redis's replication
// and Sentinel surface, answered from the replicator's view of the cluster
// (docs/operations.md). A single node (no --cluster, or one member) is a
// master with no replicas.
//
// Offsets are log indexes: the leader reports its last log index, a
// follower the index it has applied, a replica's offset is its match index.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/client.h"
#include "server/replicator.h"
#include "server/server.h"
#include "server/server_command.h"

namespace tandem::server {
namespace {

using Args = std::span<const std::string_view>;
using kv::EqualsIgnoreCase;

// FAILOVER without TIMEOUT: how long the transfer may take (the replicator
// applies the same default).
constexpr int64_t kDefaultFailoverTimeoutMs = 10000;
// Extra time the client waits beyond the failover timeout before giving up
// on the replicator's answer.
constexpr int64_t kFailoverReplySlackMs = 2000;

// --- the cluster as these commands see it ---

struct Member {
  uint64_t id;
  HostPort address;
};

// Config::cluster, or this node alone at its advertised address.
std::vector<Member> Members(const Server& s) {
  const Config& cfg = s.config();
  std::vector<Member> out;
  for (const auto& [id, hp] : cfg.cluster) out.push_back({id, hp});
  if (out.empty()) out.push_back({cfg.node_id, cfg.advertise});
  return out;
}

// Followers that count as connected replicas (ROLE, FAILOVER).
bool FollowerOnline(const FollowerInfo& f, const Config& cfg) {
  return f.connected && f.last_ack_ms >= 0 && f.last_ack_ms <= cfg.election_timeout_ms;
}

// This node can vouch for a leader: it leads, or it heard from the leader
// within an election timeout.
bool LeaderHealthy(Server& s) {
  Replicator* r = s.replicator();
  if (r == nullptr || r->is_leader()) return true;
  if (r->leader_id() == 0) return false;
  return r->ms_since_leader_contact() <= s.config().election_timeout_ms;
}

std::optional<HostPort> LeaderAddress(Server& s) {
  Replicator* r = s.replicator();
  if (r == nullptr) return s.config().advertise;
  return r->leader_address();
}

uint64_t LeaderId(Server& s) {
  Replicator* r = s.replicator();
  return r == nullptr ? s.config().node_id : r->leader_id();
}

// A stable 40-character id per node, where Redis shows a run id.
std::string RunId(uint64_t node_id) { return fmt::format("{:040x}", node_id); }

// --- ROLE ---

void Role(Server& s, Client&, Args, resp::Writer& w) {
  Replicator* r = s.replicator();
  if (r == nullptr || r->is_leader()) {
    uint64_t last = r == nullptr ? s.journal().last_index() : r->status().last_index;
    std::vector<FollowerInfo> online;
    if (r != nullptr) {
      for (const auto& f : r->followers()) {
        if (FollowerOnline(f, s.config())) online.push_back(f);
      }
    }
    w.ArrayHeader(3);
    w.Bulk("master");
    w.Integer(static_cast<int64_t>(last));
    w.ArrayHeader(static_cast<int64_t>(online.size()));
    for (const auto& f : online) {
      w.ArrayHeader(3);
      w.Bulk(f.address.host);
      w.Bulk(std::to_string(f.address.port));
      w.Bulk(std::to_string(f.match_index));
    }
    return;
  }
  auto leader = r->leader_address();
  w.ArrayHeader(5);
  w.Bulk("slave");
  w.Bulk(leader ? leader->host : "?");
  w.Integer(leader ? leader->port : 0);
  w.Bulk(leader && LeaderHealthy(s) ? "connected" : "connect");
  w.Integer(static_cast<int64_t>(r->applied_index()));
}

// --- WAIT ---

// Followers holding the log up to `index` (with no write yet, the
// connected followers, as Redis counts its replicas).
int64_t CountAcked(Server& s, uint64_t index) {
  Replicator* r = s.replicator();
  if (r == nullptr || !r->is_leader()) return 0;
  int64_t n = 0;
  for (const auto& f : r->followers()) {
    if (f.match_index >= index && (index > 0 || f.connected)) ++n;
  }
  return n;
}

void Wait(Server& s, Client& c, Args args, resp::Writer& w) {
  Replicator* r = s.replicator();
  if (r != nullptr && !r->is_leader()) {
    return w.Error(
        "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
        "if a replica is configured to be writable (which is not the default) writes to "
        "replicas are just local and are not propagated.");
  }
  int64_t wanted, timeout;
  if (!kv::ParseInt64(args[1], &wanted)) return w.Error("ERR value is not an integer or out of range");
  if (!kv::ParseInt64(args[2], &timeout)) {
    return w.Error("ERR timeout is not an integer or out of range");
  }
  if (timeout < 0) return w.Error("ERR timeout is negative");
  uint64_t index = c.last_write_index;
  int64_t acked = CountAcked(s, index);
  // A single node has no replicas: nothing to wait for.
  if (r == nullptr || acked >= wanted) return w.Integer(acked);

  Server* server = &s;
  auto best = std::make_shared<int64_t>(acked);
  c.block_check = [server, index, wanted, best](resp::Writer& out) {
    Replicator* rep = server->replicator();
    if (rep != nullptr && rep->is_leader()) *best = std::max(*best, CountAcked(*server, index));
    // A deposed leader learns no more acknowledgements: answer with what it had.
    if (*best >= wanted || rep == nullptr || !rep->is_leader()) {
      out.Integer(*best);
      return true;
    }
    return false;
  };
  c.block_timeout = [server, index, best](resp::Writer& out) {
    *best = std::max(*best, CountAcked(*server, index));
    out.Integer(*best);
  };
  c.block_deadline_mono_ms = timeout == 0 ? 0 : s.clock().MonotonicMs() + timeout;
}

// --- FAILOVER ---

struct FailoverOutcome {
  bool done = false;
  bool ok = false;
  std::string message;
};

void WriteFailoverOutcome(const FailoverOutcome& o, resp::Writer& w) {
  if (o.ok) return w.Ok();
  std::string msg = o.message.empty() ? "FAILOVER failed" : o.message;
  if (msg.rfind("ERR ", 0) != 0) msg = "ERR " + msg;
  w.Error(msg);
}

void Failover(Server& s, Client& c, Args args, resp::Writer& w) {
  Replicator* r = s.replicator();
  bool in_progress = r != nullptr && r->status().transfer_target != 0;
  if (args.size() == 2 && EqualsIgnoreCase(args[1], "ABORT")) {
    if (!in_progress) return w.Error("ERR No failover in progress.");
    return w.Error(
        "ERR FAILOVER ABORT is not supported: a leadership transfer ends by itself within an "
        "election timeout");
  }
  int64_t timeout_ms = 0;
  bool force = false;
  std::optional<HostPort> to;
  for (size_t j = 1; j < args.size(); ++j) {
    if (EqualsIgnoreCase(args[j], "TIMEOUT") && j + 1 < args.size() && timeout_ms == 0) {
      if (!kv::ParseInt64(args[j + 1], &timeout_ms)) {
        return w.Error("ERR value is not an integer or out of range");
      }
      if (timeout_ms <= 0) return w.Error("ERR FAILOVER timeout must be greater than 0");
      ++j;
    } else if (EqualsIgnoreCase(args[j], "TO") && j + 2 < args.size() && !to) {
      int64_t port;
      if (!kv::ParseInt64(args[j + 2], &port)) {
        return w.Error("ERR value is not an integer or out of range");
      }
      to = HostPort{std::string(args[j + 1]), static_cast<uint16_t>(port)};
      if (port < 0 || port > 65535) to->port = 0;  // matches no member
      j += 2;
    } else if (EqualsIgnoreCase(args[j], "FORCE") && !force) {
      force = true;
    } else {
      return w.Error("ERR syntax error");
    }
  }
  if (in_progress) return w.Error("ERR FAILOVER already in progress.");
  if (r != nullptr && !r->is_leader()) {
    return w.Error("ERR FAILOVER is not valid when server is a replica.");
  }
  std::vector<FollowerInfo> followers;
  if (r != nullptr) followers = r->followers();
  bool any_online = std::any_of(followers.begin(), followers.end(),
                                [&](const FollowerInfo& f) { return FollowerOnline(f, s.config()); });
  if (!any_online) return w.Error("ERR FAILOVER requires connected replicas.");
  if (force && (timeout_ms == 0 || !to)) {
    return w.Error(
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
  }
  uint64_t target = 0;
  if (to) {
    for (const auto& [id, hp] : s.config().cluster) {
      if (id != s.config().node_id && hp.port == to->port && hp.host == to->host) target = id;
    }
    auto f = std::find_if(followers.begin(), followers.end(),
                          [&](const FollowerInfo& fi) { return fi.id == target; });
    if (target == 0 || f == followers.end()) {
      return w.Error("ERR FAILOVER target HOST and PORT is not a replica.");
    }
    if (!FollowerOnline(*f, s.config())) return w.Error("ERR FAILOVER target replica is not online.");
  }

  // FORCE is accepted for compatibility: a leadership transfer always lets
  // the target catch up first, so nothing acknowledged can be lost.
  auto outcome = std::make_shared<FailoverOutcome>();
  r->Failover(target, timeout_ms, [outcome](bool ok, std::string message) {
    outcome->done = true;
    outcome->ok = ok;
    outcome->message = std::move(message);
  });
  if (outcome->done) return WriteFailoverOutcome(*outcome, w);
  c.block_check = [outcome](resp::Writer& out) {
    if (!outcome->done) return false;
    WriteFailoverOutcome(*outcome, out);
    return true;
  };
  c.block_timeout = [](resp::Writer& out) {
    out.Error("ERR FAILOVER timed out before a new leader was known");
  };
  int64_t wait_ms = (timeout_ms > 0 ? timeout_ms : kDefaultFailoverTimeoutMs) + kFailoverReplySlackMs;
  c.block_deadline_mono_ms = s.clock().MonotonicMs() + wait_ms;
}

// --- SENTINEL ---

// One Sentinel "instance" reply: field/value pairs, values as bulk strings.
class InstanceReply {
 public:
  void Add(std::string_view key, std::string value) { fields_.emplace_back(key, std::move(value)); }
  void Add(std::string_view key, int64_t value) { Add(key, std::to_string(value)); }
  void Write(resp::Writer& w) const {
    w.MapHeader(static_cast<int64_t>(fields_.size()));
    for (const auto& [k, v] : fields_) {
      w.Bulk(k);
      w.Bulk(v);
    }
  }

 private:
  std::vector<std::pair<std::string_view, std::string>> fields_;
};

int64_t Quorum(const Server& s) { return static_cast<int64_t>(Members(s).size() / 2 + 1); }

InstanceReply MasterState(Server& s) {
  const Config& cfg = s.config();
  Replicator* r = s.replicator();
  std::optional<HostPort> addr = LeaderAddress(s);
  bool healthy = addr.has_value() && LeaderHealthy(s);
  int64_t contact_ms = r == nullptr ? 0 : std::min<int64_t>(r->ms_since_leader_contact(), 1ll << 40);
  uint64_t term = r == nullptr ? 0 : r->status().term;
  int64_t members = static_cast<int64_t>(Members(s).size());

  InstanceReply m;
  m.Add("name", cfg.cluster_id);
  m.Add("ip", addr ? addr->host : "?");
  m.Add("port", addr ? addr->port : 0);
  m.Add("runid", RunId(LeaderId(s)));
  // No leader known, or none heard from lately: s_down makes Sentinel
  // clients skip this node's answer and ask another one (or retry).
  m.Add("flags", healthy ? "master" : "master,s_down,disconnected");
  m.Add("link-pending-commands", 0);
  m.Add("link-refcount", 1);
  m.Add("last-ping-sent", 0);
  m.Add("last-ok-ping-reply", contact_ms);
  m.Add("last-ping-reply", contact_ms);
  if (!healthy) m.Add("s-down-time", contact_ms);
  m.Add("down-after-milliseconds", cfg.election_timeout_ms);
  m.Add("info-refresh", contact_ms);
  m.Add("role-reported", "master");
  m.Add("role-reported-time", r == nullptr ? 0 : std::max<int64_t>(
      0, s.clock().NowUnixMs() - r->last_election_unix_ms()));
  m.Add("config-epoch", static_cast<int64_t>(term));
  m.Add("num-slaves", members - 1);
  m.Add("num-other-sentinels", members - 1);
  m.Add("quorum", Quorum(s));
  m.Add("failover-timeout", kDefaultFailoverTimeoutMs);
  m.Add("parallel-syncs", 1);
  return m;
}

// Every member but the leader. The leader knows each one's state; a
// follower knows only its own.
std::vector<InstanceReply> ReplicaStates(Server& s) {
  const Config& cfg = s.config();
  Replicator* r = s.replicator();
  std::vector<InstanceReply> out;
  if (r == nullptr) return out;
  uint64_t leader = r->leader_id();
  std::optional<HostPort> leader_addr = r->leader_address();
  std::vector<FollowerInfo> followers;
  if (r->is_leader()) followers = r->followers();
  for (const Member& m : Members(s)) {
    if (m.id == leader && leader != 0) continue;
    std::string flags = "slave";
    bool link_ok = true;
    int64_t offset = 0, ping_ms = 0;
    if (r->is_leader()) {
      auto f = std::find_if(followers.begin(), followers.end(),
                            [&](const FollowerInfo& fi) { return fi.id == m.id; });
      if (f == followers.end() || !FollowerOnline(*f, cfg)) {
        flags += ",s_down,disconnected";
        link_ok = false;
      }
      if (f != followers.end()) {
        offset = static_cast<int64_t>(f->match_index);
        ping_ms = f->last_ack_ms;
      }
    } else if (m.id == cfg.node_id) {
      link_ok = LeaderHealthy(s);
      offset = static_cast<int64_t>(r->applied_index());
      ping_ms = 0;
    }
    InstanceReply rep;
    rep.Add("name", m.address.ToString());
    rep.Add("ip", m.address.host);
    rep.Add("port", m.address.port);
    rep.Add("runid", RunId(m.id));
    rep.Add("flags", flags);
    rep.Add("link-pending-commands", 0);
    rep.Add("link-refcount", 1);
    rep.Add("last-ping-sent", 0);
    rep.Add("last-ok-ping-reply", ping_ms);
    rep.Add("last-ping-reply", ping_ms);
    rep.Add("down-after-milliseconds", cfg.election_timeout_ms);
    rep.Add("info-refresh", ping_ms);
    rep.Add("role-reported", "slave");
    rep.Add("role-reported-time", 0);
    rep.Add("master-link-down-time", 0);
    rep.Add("master-link-status", link_ok ? "ok" : "err");
    rep.Add("master-host", leader_addr ? leader_addr->host : "?");
    rep.Add("master-port", leader_addr ? leader_addr->port : 0);
    rep.Add("slave-priority", 100);
    rep.Add("slave-repl-offset", offset);
    rep.Add("replica-announced", 1);
    out.push_back(std::move(rep));
  }
  return out;
}

// The other members: each node plays the Sentinel for the cluster, so a
// client that knows one address can learn the others.
std::vector<InstanceReply> SentinelStates(Server& s) {
  const Config& cfg = s.config();
  Replicator* r = s.replicator();
  uint64_t term = r == nullptr ? 0 : r->status().term;
  uint64_t leader = LeaderId(s);
  std::vector<InstanceReply> out;
  for (const Member& m : Members(s)) {
    if (m.id == cfg.node_id) continue;
    InstanceReply rep;
    rep.Add("name", RunId(m.id));
    rep.Add("ip", m.address.host);
    rep.Add("port", m.address.port);
    rep.Add("runid", RunId(m.id));
    rep.Add("flags", "sentinel");
    rep.Add("link-pending-commands", 0);
    rep.Add("link-refcount", 1);
    rep.Add("last-ping-sent", 0);
    rep.Add("last-ok-ping-reply", 0);
    rep.Add("last-ping-reply", 0);
    rep.Add("down-after-milliseconds", cfg.election_timeout_ms);
    rep.Add("last-hello-message", 0);
    rep.Add("voted-leader", leader == 0 ? "?" : RunId(leader));
    rep.Add("voted-leader-epoch", static_cast<int64_t>(term));
    out.push_back(std::move(rep));
  }
  return out;
}

void WriteList(const std::vector<InstanceReply>& items, resp::Writer& w) {
  w.ArrayHeader(static_cast<int64_t>(items.size()));
  for (const auto& i : items) i.Write(w);
}

void Sentinel(Server& s, Client&, Args args, resp::Writer& w) {
  std::string_view sub = args[1];
  auto arity = [&](size_t n, std::string_view name) {
    if (args.size() == n) return true;
    ReplyArityError(w, fmt::format("sentinel|{}", name));
    return false;
  };
  auto known = [&](std::string_view name) {
    if (name == s.config().cluster_id) return true;
    w.Error("ERR No such master with that name");
    return false;
  };
  if (EqualsIgnoreCase(sub, "GET-MASTER-ADDR-BY-NAME")) {
    if (!arity(3, "get-master-addr-by-name")) return;
    auto addr = LeaderAddress(s);
    if (args[2] != s.config().cluster_id || !addr || !LeaderHealthy(s)) return w.NullArray();
    w.ArrayHeader(2);
    w.Bulk(addr->host);
    w.Bulk(std::to_string(addr->port));
  } else if (EqualsIgnoreCase(sub, "MASTERS")) {
    if (!arity(2, "masters")) return;
    w.ArrayHeader(1);
    MasterState(s).Write(w);
  } else if (EqualsIgnoreCase(sub, "MASTER")) {
    if (!arity(3, "master") || !known(args[2])) return;
    MasterState(s).Write(w);
  } else if (EqualsIgnoreCase(sub, "REPLICAS") || EqualsIgnoreCase(sub, "SLAVES")) {
    if (!arity(3, EqualsIgnoreCase(sub, "SLAVES") ? "slaves" : "replicas") || !known(args[2])) return;
    WriteList(ReplicaStates(s), w);
  } else if (EqualsIgnoreCase(sub, "SENTINELS")) {
    if (!arity(3, "sentinels") || !known(args[2])) return;
    WriteList(SentinelStates(s), w);
  } else if (EqualsIgnoreCase(sub, "MYID")) {
    if (!arity(2, "myid")) return;
    w.Bulk(RunId(s.config().node_id));
  } else if (EqualsIgnoreCase(sub, "CKQUORUM")) {
    if (!arity(3, "ckquorum") || !known(args[2])) return;
    if (!LeaderAddress(s) || !LeaderHealthy(s)) {
      return w.Error("NOQUORUM no leader is known to this node");
    }
    int64_t members = static_cast<int64_t>(Members(s).size());
    w.SimpleString(fmt::format("OK {} usable Sentinels. Quorum and failover authorization can be "
                               "reached",
                               members));
  } else if (EqualsIgnoreCase(sub, "HELP")) {
    if (!arity(2, "help")) return;
    static constexpr std::string_view kHelp[] = {
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CKQUORUM <master-name>",
        "    Check that this node knows a leader.",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the leader (nil while none is known).",
        "MASTER <master-name>",
        "    Show the state and info of the leader.",
        "MASTERS",
        "    Show the cluster's leader (the master name is the --cluster-id).",
        "MYID",
        "    Return this node's id.",
        "REPLICAS <master-name>",
        "    Show the followers.",
        "SENTINELS <master-name>",
        "    Show the other members (every node answers SENTINEL).",
        "HELP",
        "    Print this help."};
    ReplyHelp(w, kHelp);
  } else {
    ReplyUnknownSubcommand(w, sub, "SENTINEL");
  }
}

using kv::kCmdAdmin;
using kv::kCmdFast;
using kv::kCmdLoading;
using kv::kCmdNoScript;
using kv::kCmdStale;

const ServerCommand kCommands[] = {
    {{"role", 1, kCmdNoScript | kCmdLoading | kCmdStale | kCmdFast, 0, 0, 0, "server", "Returns the replication role.", "2.8.12", nullptr}, Role},
    {{"wait", 3, kCmdNoScript, 0, 0, 0, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0", nullptr}, Wait},
    {{"failover", -1, kCmdAdmin | kCmdNoScript | kCmdStale, 0, 0, 0, "server", "Starts a coordinated failover from this server to one of its replicas.", "6.2.0", nullptr}, Failover},
    {{"sentinel", -2, kCmdLoading | kCmdStale, 0, 0, 0, "sentinel", "A container for Sentinel commands (answered by every node).", "2.8.4", nullptr}, Sentinel},
};

}  // namespace

std::span<const ServerCommand> ReplicationCommands() { return kCommands; }

}  // namespace tandem::server
