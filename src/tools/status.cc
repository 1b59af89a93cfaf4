#include "tools/status.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "tools/redis_connection.h"

namespace tandem::tools {

std::map<uint64_t, MemberAddress> ParseMembers(const std::string& value) {
  std::map<uint64_t, MemberAddress> out;
  std::string_view rest = value;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = item.find('='), colon = item.rfind(':');
    if (eq == std::string_view::npos || colon == std::string_view::npos || colon < eq) continue;
    MemberAddress a;
    a.host = std::string(item.substr(eq + 1, colon - eq - 1));
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
      a.host = a.host.substr(1, a.host.size() - 2);
    }
    try {
      a.port = std::stoi(std::string(item.substr(colon + 1)));
      out[std::stoull(std::string(item.substr(0, eq)))] = a;
    } catch (...) {
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> FetchInfo(const std::string& host, int port,
                                                            const std::string& password,
                                                            std::string* error, int timeout_ms) {
  RedisConnection conn;
  Status st = conn.Connect(host, port, timeout_ms, password);
  if (!st.ok()) {
    *error = st.message();
    return std::nullopt;
  }
  auto reply = conn.Call({"INFO", "everything"});
  if (!reply.ok()) {
    *error = reply.status().message();
    return std::nullopt;
  }
  if (reply->is_error()) {
    *error = reply->str;
    return std::nullopt;
  }
  std::map<std::string, std::string> info;
  for (auto& [k, v] : ParseInfo(reply->str)) info[k] = v;
  return info;
}

namespace {

using Info = std::map<std::string, std::string>;

std::string Get(const Info& info, const std::string& key, const std::string& fallback = "-") {
  auto it = info.find(key);
  return it == info.end() ? fallback : it->second;
}

int64_t GetInt(const Info& info, const std::string& key, int64_t fallback = -1) {
  try {
    return std::stoll(Get(info, key, ""));
  } catch (...) {
    return fallback;
  }
}

// "addr=..,match=..,lag_entries=..,last_ack_ms=..,voter=1,connected=1"
std::map<std::string, std::string> ParseFields(const std::string& value) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    std::string item = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

struct Row {
  uint64_t id = 0;
  std::string node = "?", address, role = "-", term = "-", commit = "-", applied = "-",
              lag = "-", health = "down";
  bool reachable = false;
  bool ok = false;
  Info info;
};

std::string RoleOf(const Info& info) {
  std::string role = Get(info, "tandem_role", "");
  if (role.empty()) {
    role = Get(info, "role");
    if (role == "master") return "leader";
    if (role == "slave") return "follower";
  }
  return role;
}

Row QueryMember(uint64_t id, const MemberAddress& addr, const std::string& password) {
  Row row;
  row.id = id;
  row.node = id == 0 ? "?" : std::to_string(id);
  row.address = addr.ToString();
  std::string error;
  auto info = FetchInfo(addr.host, addr.port, password, &error);
  if (!info) {
    row.health = "down (" + error + ")";
    return row;
  }
  row.reachable = true;
  row.info = std::move(*info);
  const Info& in = row.info;
  if (id == 0) row.node = Get(in, "tandem_node_id", "?");
  row.role = RoleOf(in);
  row.term = Get(in, "tandem_term");
  row.commit = Get(in, "tandem_commit_index");
  row.applied = Get(in, "tandem_applied_index");
  return row;
}

// Fills lag and health once every member has answered.
void Assess(std::vector<Row>& rows) {
  // The leader: a member reporting master with the highest term.
  const Row* leader = nullptr;
  for (const Row& r : rows) {
    if (!r.reachable || Get(r.info, "role", "") != "master") continue;
    if (leader == nullptr || GetInt(r.info, "tandem_term") > GetInt(leader->info, "tandem_term")) {
      leader = &r;
    }
  }
  int64_t leader_commit = leader ? GetInt(leader->info, "tandem_commit_index", 0) : 0;
  int64_t leader_term = leader ? GetInt(leader->info, "tandem_term", 0) : 0;
  size_t leaders_in_term = 0;
  for (const Row& r : rows) {
    if (r.reachable && Get(r.info, "role", "") == "master" &&
        GetInt(r.info, "tandem_term", 0) == leader_term) {
      ++leaders_in_term;
    }
  }
  for (Row& r : rows) {
    if (!r.reachable) continue;
    std::string disk = Get(r.info, "tandem_disk_error", "none");
    std::vector<std::string> problems;
    if (disk != "none") problems.push_back("disk error: " + disk);
    if (&r == leader) {
      r.lag = "0";
      if (leaders_in_term > 1) problems.push_back("two leaders in one term");
    } else {
      int64_t applied = GetInt(r.info, "tandem_applied_index", 0);
      int64_t behind = leader_commit > applied ? leader_commit - applied : 0;
      std::string ack = "?";
      bool connected = true;
      if (leader) {
        auto f = ParseFields(Get(leader->info, "tandem_follower_" + std::to_string(r.id), ""));
        if (f.count("last_ack_ms")) ack = f["last_ack_ms"] + "ms";
        if (f.count("connected") && f["connected"] == "0") connected = false;
      }
      r.lag = leader ? fmt::format("{} ({})", behind, ack) : "-";
      if (Get(r.info, "role", "") == "master") {
        problems.push_back("stale leader (term " + r.term + ")");
      } else if (Get(r.info, "master_link_status", "") != "up") {
        problems.push_back("no leader contact");
      }
      if (leader && !connected) problems.push_back("leader has no link to it");
    }
    if (!leader) problems.push_back("no leader");
    r.ok = problems.empty();
    if (r.ok) {
      r.health = "ok";
    } else {
      r.health.clear();
      for (const auto& p : problems) r.health += (r.health.empty() ? "" : "; ") + p;
    }
  }
}

void PrintTable(const std::vector<Row>& rows) {
  fmt::print("{:<5} {:<22} {:<13} {:>6} {:>10} {:>10} {:>14}  {}\n", "NODE", "ADDRESS", "ROLE",
             "TERM", "COMMIT", "APPLIED", "LAG", "HEALTH");
  for (const auto& r : rows) {
    fmt::print("{:<5} {:<22} {:<13} {:>6} {:>10} {:>10} {:>14}  {}\n", r.node, r.address, r.role,
               r.term, r.commit, r.applied, r.lag, r.health);
  }
}

// One round: the member list from the given node, then every member.
std::vector<Row> Survey(const StatusOptions& o) {
  MemberAddress seed{o.host, o.port};
  Row first = QueryMember(0, seed, o.password);
  if (!first.reachable) return {first};
  auto members = ParseMembers(Get(first.info, "tandem_members", ""));
  if (members.empty()) {
    std::vector<Row> rows = {first};
    Assess(rows);
    return rows;
  }
  std::vector<Row> rows;
  uint64_t seed_id = 0;
  try {
    seed_id = std::stoull(Get(first.info, "tandem_node_id", "0"));
  } catch (...) {
  }
  for (const auto& [id, addr] : members) {
    if (id == seed_id) {
      // Already asked; keep the address as the cluster knows it.
      Row r = first;
      r.id = id;
      r.node = std::to_string(id);
      r.address = addr.ToString();
      rows.push_back(std::move(r));
    } else {
      rows.push_back(QueryMember(id, addr, o.password));
    }
  }
  Assess(rows);
  return rows;
}

}  // namespace

int RunStatus(const StatusOptions& o) {
  for (;;) {
    std::vector<Row> rows = Survey(o);
    if (o.watch) fmt::print("\033[H\033[2J");
    PrintTable(rows);
    std::fflush(stdout);
    if (!o.watch) {
      for (const auto& r : rows) {
        if (!r.ok) return 1;
      }
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.interval_ms));
  }
}

}  // namespace tandem::tools
