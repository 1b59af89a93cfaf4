#include "server/info.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kv/command.h"
#include "server/replicator.h"
#include "server/server.h"
#include "util/allocator.h"
#include "util/heap_prefault.h"

namespace tandem::server {

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
  Add(l, "mem_allocator", AllocatorName());
  Add(l, "tandem_huge_pages", TransparentHugePagesState());
  Add(l, "tandem_huge_pages_policy", HugePagesName(s.config().huge_pages));
  HeapPrefaultStats prefault = GetHeapPrefaultStats();
  Add(l, "tandem_heap_prefault", prefault.active ? "on" : "off");
  Add(l, "tandem_heap_prefault_populated_bytes", prefault.populated_bytes);
  Add(l, "tandem_heap_prefault_lead_bytes", prefault.lead_bytes);
  Add(l, "tandem_heap_prefault_released_bytes", prefault.released_bytes);
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
  Add(l, "tandem_log_flushes", j.flushes());
  Add(l, "tandem_snapshot_index", snap.last_index());
  Add(l, "tandem_snapshot_method", SnapshotMethodName(snap.method()));
  Add(l, "tandem_snapshot_hold", SnapshotHoldName(s.snapshot_hold()));
  Add(l, "tandem_disk_error", j.failed() ? j.failure().ToString() : "none");
  return l;
}

Lines StatsSection(Server& s) {
  Lines l;
  Add(l, "total_connections_received", s.total_connections());
  Add(l, "total_commands_processed", s.total_commands());
  Add(l, "expired_keys", s.expired_keys());
  Add(l, "latest_fork_usec", s.snapshotter().latest_fork_usec());
  return l;
}

// Redis's replication fields (offsets are log indexes), then Tandem's own.
// A single node (no replicator) is a master with no replicas.
std::string ReplicationId(const Config& cfg, uint64_t term) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the cluster id
  for (unsigned char ch : cfg.cluster_id) h = (h ^ ch) * 1099511628211ull;
  return fmt::format("{:016x}{:024x}", h, term);
}

std::string OneLine(std::string s) {
  for (char& ch : s) {
    if (ch == '\r' || ch == '\n') ch = ' ';
  }
  return s.empty() ? "none" : s;
}

Lines ReplicationSection(Server& s) {
  Lines l;
  const Config& cfg = s.config();
  const Journal& j = s.journal();
  Replicator* r = s.replicator();
  replication::CoreStatus st;
  if (r != nullptr) st = r->status();
  bool leader = r == nullptr || r->is_leader();
  uint64_t term = r == nullptr ? 0 : st.term;
  uint64_t applied = r == nullptr ? j.last_index() : r->applied_index();
  uint64_t commit = r == nullptr ? j.durable_index() : r->commit_index();
  uint64_t last_index = r == nullptr ? j.last_index() : st.last_index;
  std::vector<FollowerInfo> followers;
  if (r != nullptr && leader) followers = r->followers();
  auto online = [&](const FollowerInfo& f) {
    return f.connected && f.last_ack_ms >= 0 && f.last_ack_ms <= cfg.election_timeout_ms;
  };
  auto backlog = [&] {
    Add(l, "master_replid", ReplicationId(cfg, term));
    Add(l, "master_replid2", std::string(40, '0'));
  };

  if (leader) {
    Add(l, "role", "master");
    size_t n = 0;
    for (const auto& f : followers) n += online(f) ? 1 : 0;
    Add(l, "connected_slaves", n);
    size_t i = 0;
    for (const auto& f : followers) {
      if (!online(f)) continue;
      Add(l, fmt::format("slave{}", i++),
          fmt::format("ip={},port={},state=online,offset={},lag={}", f.address.host,
                      f.address.port, f.match_index, f.last_ack_ms / 1000));
    }
    Add(l, "master_failover_state",
        st.transfer_target != 0 ? "failover-in-progress" : "no-failover");
    backlog();
    Add(l, "master_repl_offset", last_index);
  } else {
    auto addr = r->leader_address();
    int64_t contact_ms = r->ms_since_leader_contact();
    bool known = contact_ms != INT64_MAX;
    bool up = addr.has_value() && st.leader != 0 && known && contact_ms <= cfg.election_timeout_ms;
    Add(l, "role", "slave");
    Add(l, "master_host", addr ? addr->host : "?");
    Add(l, "master_port", addr ? addr->port : 0);
    Add(l, "master_link_status", up ? "up" : "down");
    Add(l, "master_last_io_seconds_ago", known ? contact_ms / 1000 : -1);
    Add(l, "master_sync_in_progress", 0);
    Add(l, "slave_read_repl_offset", last_index);
    Add(l, "slave_repl_offset", applied);
    if (!up) Add(l, "master_link_down_since_seconds", known ? contact_ms / 1000 : -1);
    Add(l, "slave_priority", 100);
    Add(l, "slave_read_only", 1);
    Add(l, "replica_announced", 1);
    Add(l, "connected_slaves", 0);
    Add(l, "master_failover_state", "no-failover");
    backlog();
    Add(l, "master_repl_offset", applied);
  }
  Add(l, "second_repl_offset", -1);
  Add(l, "repl_backlog_active", 1);
  Add(l, "repl_backlog_size", j.bytes_since_snapshot());
  Add(l, "repl_backlog_first_byte_offset", j.first_index());
  Add(l, "repl_backlog_histlen",
      j.last_index() >= j.first_index() && j.first_index() > 0 ? j.last_index() - j.first_index() + 1
                                                                 : 0);

  Add(l, "tandem_node_id", cfg.node_id);
  Add(l, "tandem_role", r == nullptr ? "leader" : replication::RoleName(st.role));
  Add(l, "tandem_term", term);
  Add(l, "tandem_leader_id", r == nullptr ? cfg.node_id : st.leader);
  Add(l, "tandem_commit_index", commit);
  Add(l, "tandem_applied_index", applied);
  Add(l, "tandem_last_log_index", last_index);
  Add(l, "tandem_durability", DurabilityName(cfg.durability));
  if (r != nullptr && !leader) {
    int64_t contact_ms = r->ms_since_leader_contact();
    Add(l, "tandem_ms_since_leader_contact", contact_ms == INT64_MAX ? -1 : contact_ms);
  }
  for (const auto& f : followers) {
    Add(l, fmt::format("tandem_follower_{}", f.id),
        fmt::format("addr={},match={},lag_entries={},last_ack_ms={},voter={},connected={}",
                    f.address.ToString(), f.match_index,
                    last_index > f.match_index ? last_index - f.match_index : 0, f.last_ack_ms,
                    f.voter ? 1 : 0, f.connected ? 1 : 0));
  }
  Add(l, "tandem_last_election_ms", r == nullptr ? 0 : r->last_election_unix_ms());
  Add(l, "tandem_last_election_reason",
      r == nullptr ? std::string("single-node") : OneLine(r->last_election_reason()));
  Add(l, "tandem_loop_stalls", r == nullptr ? 0 : r->loop_stalls());
  Add(l, "tandem_loop_longest_stall_ms", r == nullptr ? 0 : r->longest_loop_stall_ms());
  std::string members;
  if (cfg.cluster.empty()) {
    members = fmt::format("{}={}", cfg.node_id, cfg.advertise.ToString());
  } else {
    for (const auto& [id, hp] : cfg.cluster) {
      if (!members.empty()) members += ',';
      members += fmt::format("{}={}", id, hp.ToString());
    }
  }
  Add(l, "tandem_members", members);
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
