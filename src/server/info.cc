#include "server/info.h"

#include <fmt/format.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "kv/command.h"
#include "server/server.h"

namespace tandem::server {

size_t ProcessRssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t AllocatedBytes() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::string HumanBytes(size_t bytes) {
  double b = static_cast<double>(bytes);
  if (b < 1024) return fmt::format("{}B", bytes);
  if (b < 1024.0 * 1024) return fmt::format("{:.2f}K", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.2f}M", b / (1024 * 1024));
  return fmt::format("{:.2f}G", b / (1024.0 * 1024 * 1024));
}

namespace {

using Lines = std::vector<std::pair<std::string, std::string>>;

template <typename T>
void Add(Lines& l, std::string key, const T& value) {
  l.emplace_back(std::move(key), fmt::format("{}", value));
}

Lines ServerSection(Server& s) {
  Lines l;
  struct utsname u {};
  uname(&u);
  int64_t uptime = (s.clock().NowUnixMs() - s.start_time_ms()) / 1000;
  Add(l, "redis_version", "7.0.0");
  Add(l, "tandem_version", "0.1.0");
  Add(l, "redis_mode", "standalone");
  Add(l, "os", fmt::format("{} {} {}", u.sysname, u.release, u.machine));
  Add(l, "arch_bits", sizeof(void*) * 8);
  Add(l, "multiplexing_api", "epoll");
  Add(l, "process_id", getpid());
  Add(l, "tcp_port", s.bound_port());
  Add(l, "uptime_in_seconds", uptime);
  Add(l, "uptime_in_days", uptime / 86400);
  Add(l, "hz", s.config().active_expire_hz);
  Add(l, "executable", s.config().executable);
  Add(l, "config_file", s.config().config_file);
  Add(l, "tandem_node_id", s.config().node_id);
  Add(l, "tandem_data_dir", s.config().data_dir);
  return l;
}

Lines ClientsSection(Server& s) {
  Lines l;
  Add(l, "connected_clients", s.clients().size());
  Add(l, "maxclients", s.config().maxclients);
  Add(l, "blocked_clients", 0);
  return l;
}

Lines MemorySection(Server& s) {
  Lines l;
  size_t used = AllocatedBytes(), rss = ProcessRssBytes();
  Add(l, "used_memory", used);
  Add(l, "used_memory_human", HumanBytes(used));
  Add(l, "used_memory_rss", rss);
  Add(l, "used_memory_rss_human", HumanBytes(rss));
  Add(l, "maxmemory", 0);
  Add(l, "maxmemory_policy", "noeviction");
  Add(l, "mem_allocator", "libc");
  return l;
}

Lines PersistenceSection(Server& s) {
  Lines l;
  const Snapshotter& snap = s.snapshotter();
  const Journal& j = s.journal();
  Add(l, "loading", 0);
  Add(l, "rdb_bgsave_in_progress", snap.in_progress() ? 1 : 0);
  Add(l, "rdb_last_save_time", snap.last_success_unix_ms() / 1000);
  Add(l, "rdb_last_bgsave_status", snap.last_status_ok() ? "ok" : "err");
  Add(l, "aof_enabled", 1);
  Add(l, "tandem_fsync", FsyncPolicyName(j.fsync_policy()));
  Add(l, "tandem_log_first_index", j.first_index());
  Add(l, "tandem_log_last_index", j.last_index());
  Add(l, "tandem_log_durable_index", j.durable_index());
  Add(l, "tandem_log_bytes_since_snapshot", j.bytes_since_snapshot());
  Add(l, "tandem_snapshot_index", snap.last_index());
  Add(l, "tandem_disk_error", j.failed() ? j.failure().ToString() : "none");
  return l;
}

Lines StatsSection(Server& s) {
  Lines l;
  Add(l, "total_connections_received", s.total_connections());
  Add(l, "total_commands_processed", s.total_commands());
  Add(l, "expired_keys", s.expired_keys());
  return l;
}

Lines ReplicationSection(Server& s) {
  Lines l;
  Add(l, "role", "master");
  Add(l, "connected_slaves", 0);
  Add(l, "master_repl_offset", s.journal().last_index());
  Add(l, "tandem_node_id", s.config().node_id);
  Add(l, "tandem_commit_index", s.journal().durable_index());
  Add(l, "tandem_applied_index", s.journal().last_index());
  return l;
}

Lines CpuSection(Server&) {
  Lines l;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  Add(l, "used_cpu_sys", fmt::format("{}.{:06}", ru.ru_stime.tv_sec, ru.ru_stime.tv_usec));
  Add(l, "used_cpu_user", fmt::format("{}.{:06}", ru.ru_utime.tv_sec, ru.ru_utime.tv_usec));
  return l;
}

Lines KeyspaceSection(Server& s) {
  Lines l;
  const auto& db = s.state_machine().keyspace();
  if (db.size() > 0) {
    Add(l, "db0", fmt::format("keys={},expires={},avg_ttl=0", db.size(), db.expires_count()));
  }
  return l;
}

struct Section {
  std::string_view name;
  std::string_view title;
  bool in_default;
  Lines (*build)(Server&);
};

constexpr Section kSections[] = {
    {"server", "Server", true, ServerSection},
    {"clients", "Clients", true, ClientsSection},
    {"memory", "Memory", true, MemorySection},
    {"persistence", "Persistence", true, PersistenceSection},
    {"stats", "Stats", true, StatsSection},
    {"replication", "Replication", true, ReplicationSection},
    {"cpu", "CPU", true, CpuSection},
    {"keyspace", "Keyspace", true, KeyspaceSection},
};

}  // namespace

std::string BuildInfo(Server& s, const std::vector<std::string_view>& requested) {
  auto wanted = [&](const Section& sec) {
    if (requested.empty()) return sec.in_default;
    for (auto r : requested) {
      if (kv::EqualsIgnoreCase(r, "all") || kv::EqualsIgnoreCase(r, "everything") ||
          (kv::EqualsIgnoreCase(r, "default") && sec.in_default) ||
          kv::EqualsIgnoreCase(r, sec.name)) {
        return true;
      }
    }
    return false;
  };
  std::string out;
  for (const Section& sec : kSections) {
    if (!wanted(sec)) continue;
    if (!out.empty()) out += "\r\n";
    out += fmt::format("# {}\r\n", sec.title);
    for (const auto& [k, v] : sec.build(s)) out += fmt::format("{}:{}\r\n", k, v);
  }
  return out;
}

}  // namespace tandem::server
