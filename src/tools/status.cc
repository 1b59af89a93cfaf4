#include "tools/status.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "tools/redis_connection.h"

namespace tandem::tools {
namespace {

struct Row {
  std::string node = "?", address, role = "-", term = "-", commit = "-", applied = "-",
              lag = "-", health = "down";
};

Row QueryNode(const std::string& host, int port, const std::string& password) {
  Row row;
  row.address = host + ":" + std::to_string(port);
  RedisConnection conn;
  Status st = conn.Connect(host, port, 1000, password);
  if (!st.ok()) {
    row.health = "down (" + st.message() + ")";
    return row;
  }
  auto reply = conn.Call({"INFO", "everything"});
  if (!reply.ok() || reply->is_error()) {
    row.health = "error";
    return row;
  }
  std::map<std::string, std::string> info;
  for (auto& [k, v] : ParseInfo(reply->str)) info[k] = v;
  auto get = [&](const char* key, const char* fallback = "-") {
    auto it = info.find(key);
    return it == info.end() ? std::string(fallback) : it->second;
  };
  row.node = get("tandem_node_id", "?");
  std::string role = get("role");
  row.role = role == "master" ? "leader" : role == "slave" ? "follower" : role;
  row.term = get("tandem_term");
  row.commit = get("tandem_commit_index");
  row.applied = get("tandem_applied_index");
  row.lag = get("tandem_lag_entries", "0");
  std::string disk = get("tandem_disk_error", "none");
  row.health = disk == "none" ? "ok" : "disk error: " + disk;
  return row;
}

void PrintTable(const std::vector<Row>& rows) {
  fmt::print("{:<6} {:<22} {:<10} {:>6} {:>10} {:>10} {:>8}  {}\n", "NODE", "ADDRESS", "ROLE",
             "TERM", "COMMIT", "APPLIED", "LAG", "HEALTH");
  for (const auto& r : rows) {
    fmt::print("{:<6} {:<22} {:<10} {:>6} {:>10} {:>10} {:>8}  {}\n", r.node, r.address, r.role,
               r.term, r.commit, r.applied, r.lag, r.health);
  }
}

}  // namespace

int RunStatus(const StatusOptions& o) {
  for (;;) {
    std::vector<Row> rows = {QueryNode(o.host, o.port, o.password)};
    if (o.watch) fmt::print("\033[H\033[2J");
    PrintTable(rows);
    std::fflush(stdout);
    if (!o.watch) return rows[0].health == "ok" ? 0 : 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(o.interval_ms));
  }
}

}  // namespace tandem::tools
