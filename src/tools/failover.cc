#include "tools/failover.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "tools/redis_connection.h"
#include "tools/status.h"

namespace tandem::tools {
namespace {

using Info = std::map<std::string, std::string>;

std::string Get(const Info& info, const std::string& key) {
  auto it = info.find(key);
  return it == info.end() ? std::string() : it->second;
}

uint64_t GetId(const Info& info, const std::string& key) {
  try {
    return std::stoull(Get(info, key));
  } catch (...) {
    return 0;
  }
}

struct Leader {
  uint64_t id = 0;
  MemberAddress address;
  Info info;
};

// Asks the given node, then (when it does not lead) every member it lists,
// which one leads.
std::optional<Leader> FindLeader(const FailoverOptions& o, std::string* error) {
  MemberAddress seed{o.host, o.port};
  auto info = FetchInfo(seed.host, seed.port, o.password, error);
  if (!info) {
    *error = seed.ToString() + ": " + *error;
    return std::nullopt;
  }
  if (Get(*info, "role") == "master") return Leader{GetId(*info, "tandem_node_id"), seed, *info};
  auto members = ParseMembers(Get(*info, "tandem_members"));
  uint64_t hint = GetId(*info, "tandem_leader_id");
  std::vector<std::pair<uint64_t, MemberAddress>> order;
  if (auto it = members.find(hint); it != members.end()) order.push_back(*it);
  for (const auto& m : members) {
    if (m.first != hint) order.push_back(m);
  }
  for (const auto& [id, addr] : order) {
    std::string err;
    auto mi = FetchInfo(addr.host, addr.port, o.password, &err);
    if (mi && Get(*mi, "role") == "master") return Leader{id, addr, *mi};
  }
  *error = "no member reports itself as the leader (an election may be running; retry)";
  return std::nullopt;
}

}  // namespace

int RunFailover(const FailoverOptions& o) {
  std::string error;
  auto leader = FindLeader(o, &error);
  if (!leader) {
    std::fprintf(stderr, "tandemctl failover: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::string> cmd = {"FAILOVER"};
  if (o.to != 0) {
    if (o.to == leader->id) {
      fmt::print("node {} ({}) is already the leader\n", o.to, leader->address.ToString());
      return 0;
    }
    // FAILOVER TO matches the leader's own --cluster addresses.
    auto members = ParseMembers(Get(leader->info, "tandem_members"));
    auto it = members.find(o.to);
    if (it == members.end()) {
      std::fprintf(stderr, "tandemctl failover: node %llu is not a member (members: %s)\n",
                   static_cast<unsigned long long>(o.to),
                   Get(leader->info, "tandem_members").c_str());
      return 1;
    }
    cmd.insert(cmd.end(), {"TO", it->second.host, std::to_string(it->second.port)});
  }
  if (o.timeout_ms > 0) cmd.insert(cmd.end(), {"TIMEOUT", std::to_string(o.timeout_ms)});

  fmt::print("leader is node {} ({}), term {}; sending {}\n", leader->id,
             leader->address.ToString(), Get(leader->info, "tandem_term"), fmt::join(cmd, " "));
  std::fflush(stdout);
  RedisConnection conn;
  int64_t wait_ms = (o.timeout_ms > 0 ? o.timeout_ms : 10000) + 5000;
  Status st = conn.Connect(leader->address.host, leader->address.port, static_cast<int>(wait_ms),
                           o.password);
  if (!st.ok()) {
    std::fprintf(stderr, "tandemctl failover: %s: %s\n", leader->address.ToString().c_str(),
                 st.message().c_str());
    return 1;
  }
  auto reply = conn.Call(cmd);
  if (!reply.ok()) {
    std::fprintf(stderr, "tandemctl failover: %s\n", reply.status().message().c_str());
    return 1;
  }
  if (reply->is_error()) {
    std::fprintf(stderr, "tandemctl failover: %s\n", reply->str.c_str());
    return 1;
  }
  // The old leader knows the new one; report it as the cluster sees it.
  for (int attempt = 0; attempt < 20; ++attempt) {
    FailoverOptions again = o;
    again.host = leader->address.host;
    again.port = leader->address.port;
    std::string err;
    auto now = FindLeader(again, &err);
    if (now && now->id != leader->id) {
      fmt::print("failover done: node {} ({}) leads in term {}\n", now->id,
                 now->address.ToString(), Get(now->info, "tandem_term"));
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fmt::print("FAILOVER answered OK; the new leader is not visible yet (see tandemctl status)\n");
  return 0;
}

}  // namespace tandem::tools
