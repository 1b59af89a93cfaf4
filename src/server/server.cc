#include "server/server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <csignal>
#include <filesystem>

#include "kv/record.h"
#include "replication/membership.h"
#include "resp/parser.h"
#include "server/server_command.h"
#include "util/allocator.h"
#include "util/heap_prefault.h"

namespace tandem::server {

namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
// A connection reads ahead while its replies wait for the log up to this
// many bytes of commands or replies per round (the loop turn stays short:
// the node still answers its peers in time).
constexpr size_t kReadAheadBytes = 256 << 10;
// Keys of a key-table resize moved per cron tick (about 1 ms).
constexpr size_t kCronRehashKeys = 10000;
}  // namespace

Server::Server(Config config)
    : config_(std::move(config)),
      clock_(SystemClock::Default()),
      acceptor_(io_),
      signals_(io_, SIGTERM, SIGINT),
      cron_timer_(io_),
      requirepass_(config_.requirepass) {
  runtime_config_.Seed("requirepass", config_.requirepass);
  runtime_config_.Seed("appendfsync", FsyncPolicyName(config_.fsync));
  runtime_config_.Seed("hz", std::to_string(config_.active_expire_hz));
  runtime_config_.Seed("maxclients", std::to_string(config_.maxclients));
  runtime_config_.Seed("port", std::to_string(config_.listen.port));
  runtime_config_.Seed("bind", config_.listen.host);
  runtime_config_.Seed("dir", config_.data_dir);
  runtime_config_.Seed("logfile", config_.log_file);
  runtime_config_.SetHook("requirepass", [this](const std::string& v) {
    requirepass_ = v;
    return Status::Ok();
  });
  runtime_config_.SetHook("appendfsync", [this](const std::string& v) {
    FsyncPolicy p;
    if (!ParseFsyncPolicy(v, &p)) return Status::InvalidArgument("bad fsync policy");
    journal_.set_fsync_policy(p);
    return Status::Ok();
  });
  runtime_config_.SetHook("hz", [this](const std::string& v) {
    config_.active_expire_hz = std::stoi(v);
    return Status::Ok();
  });
  runtime_config_.SetHook("maxclients", [this](const std::string& v) {
    config_.maxclients = std::stoi(v);
    return Status::Ok();
  });
  runtime_config_.SetHook("loglevel", [](const std::string& v) {
    spdlog::set_level(v == "debug"     ? spdlog::level::debug
                      : v == "verbose" ? spdlog::level::debug
                      : v == "warning" ? spdlog::level::warn
                      : v == "nothing" ? spdlog::level::off
                                       : spdlog::level::info);
    return Status::Ok();
  });
}

Server::~Server() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

int64_t Server::NowMs() {
  last_now_ms_ = std::max(last_now_ms_, clock_->NowUnixMs());
  return last_now_ms_;
}

Status Server::OpenDataDir() {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) {
    return Status::IOError("cannot create data dir '" + config_.data_dir + "': " + ec.message());
  }
  std::string lock_path = config_.data_dir + "/LOCK";
  lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Status::FromErrno("cannot open '" + lock_path + "' (is the data dir writable?)", errno);
  }
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Busy("data dir '" + config_.data_dir +
                        "' is in use by another tandemd process (lock held on " + lock_path + ")");
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(lock_fd_, 0) != 0 || pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    return Status::FromErrno("cannot write '" + lock_path + "'", errno);
  }
  return Status::Ok();
}

Status Server::Recover() {
  snapshotter_.Init(config_.data_dir + "/snapshots", Env::Default(), config_.snapshot_method,
                    [this](std::function<void()> fn) { asio::post(io_, std::move(fn)); });
  Journal::Options opts;
  opts.dir = config_.data_dir + "/wal";
  opts.fsync = config_.fsync;
  opts.segment_bytes = config_.wal_segment_bytes;
  TANDEM_RETURN_IF_ERROR(journal_.Open(opts));
  auto snap = snapshotter_.LoadNewest(state_machine_, journal_.first_index());
  if (!snap.ok()) return snap.status();
  if (journal_.last_index() < snap->index) {
    // The log holds nothing after the snapshot (it was compacted away).
    TANDEM_RETURN_IF_ERROR(journal_.ResetTo(snap->index + 1, snap->term));
  }
  if (config_.cluster.size() > 1) {
    // Replicated: entries are applied as the cluster confirms they are
    // committed, not replayed blindly here.
    replicator_ = std::make_unique<Replicator>(*this, io_, config_, journal_);
    TANDEM_RETURN_IF_ERROR(replicator_->Start(snap->index, snap->term, snap->metadata));
    spdlog::info("recovered snapshot at index {} ({} keys); log ends at {}", snap->index,
                 state_machine_.keyspace().size(), journal_.last_index());
    return Status::Ok();
  }
  uint64_t applied = 0;
  TANDEM_RETURN_IF_ERROR(journal_.Replay(snap->index, [&](uint64_t index, std::string_view payload) {
    Status st = state_machine_.ApplyEncoded(payload);
    if (!st.ok()) {
      return Status::Corruption("log entry " + std::to_string(index) + ": " + st.message());
    }
    applied = index;
    return st;
  }));
  spdlog::info("recovered {} keys: snapshot at index {}, {} log entries replayed, log ends at {}",
               state_machine_.keyspace().size(), snap->index,
               applied > snap->index ? applied - snap->index : 0, journal_.last_index());
  return Status::Ok();
}

Status Server::RebuildState(uint64_t up_to) {
  snapshotter_.AbandonCapture("the state is being rebuilt");
  state_machine_.keyspace().Clear();
  auto snap = snapshotter_.LoadNewest(state_machine_, journal_.first_index());
  if (!snap.ok()) return snap.status();
  return ReplayAfterSnapshot(snap->index, up_to);
}

Status Server::AdoptState(kv::StateMachine& staged, uint64_t index, const std::string& path,
                          int64_t created_unix_ms) {
  snapshotter_.AbandonCapture("the state is being replaced");
  state_machine_.keyspace().Swap(staged.keyspace());
  staged.keyspace().Clear();  // the state this node had
  snapshotter_.RecordLoaded(index, path, created_unix_ms);
  return ReplayAfterSnapshot(index, index);
}

Status Server::ReplayAfterSnapshot(uint64_t snapshot_index, uint64_t up_to) {
  Status st = journal_.Replay(snapshot_index, [&](uint64_t index, std::string_view payload) {
    return index > up_to ? Status::Ok() : state_machine_.ApplyEncoded(payload);
  });
  // The old state's memory is free but still mapped (see util/allocator.h).
  FreeMemoryReport freed = ReleaseFreeHeapMemory();
  spdlog::info("state rebuilt; returned {} MiB of freed memory to the system in {:.1f} ms",
               (freed.rss_before - freed.rss_after) >> 20, freed.millis);
  return st;
}

Status Server::BindListener() {
  asio::error_code ec;
  auto address = asio::ip::make_address(config_.listen.host, ec);
  if (ec) return Status::InvalidArgument("--listen: '" + config_.listen.host + "' is not an IP address");
  asio::ip::tcp::endpoint endpoint(address, config_.listen.port);
  std::string where = config_.listen.ToString();
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return Status::IOError("cannot open a socket for " + where + ": " + ec.message());
  }
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    return Status::IOError("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_.listen(511, ec); ec) {
    return Status::IOError("cannot listen on " + where + ": " + ec.message());
  }
  bound_port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

Status Server::Start() {
  start_time_ms_ = clock_->NowUnixMs();
  std::signal(SIGPIPE, SIG_IGN);
  TANDEM_RETURN_IF_ERROR(OpenDataDir());
  TANDEM_RETURN_IF_ERROR(Recover());
  TANDEM_RETURN_IF_ERROR(BindListener());
  UpdateHugePages();
  spdlog::info(
      "tandemd node {} ready on {} (data dir {}, fsync {}, snapshots by {}, huge pages {} ({}), "
      "heap prefault {}, pid {})",
      config_.node_id, config_.listen.host + ":" + std::to_string(bound_port_), config_.data_dir,
      FsyncPolicyName(config_.fsync), SnapshotMethodName(config_.snapshot_method),
      HugePagesName(config_.huge_pages), TransparentHugePagesState(),
      GetHeapPrefaultStats().active ? "on" : "off", getpid());
  return Status::Ok();
}

int Server::Run() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  signals_.async_wait([this](const asio::error_code& ec, int signo) {
    if (!ec) RequestShutdown(signo == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  StartTimers();
  io_.run();
  return exit_code_;
}

void Server::RequestShutdown(std::string_view reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  spdlog::info("shutting down ({})", reason);
  Status st = journal_.FlushAndSync(clock_->MonotonicMs());
  if (!st.ok()) {
    spdlog::error("final log flush failed: {}; unacknowledged writes are not kept", st.ToString());
    exit_code_ = 1;
  } else {
    WakeReleasableClients();
  }
  snapshotter_.WaitForChild(clock_->NowUnixMs());
  if (replicator_) replicator_->Stop();
  asio::error_code ec;
  acceptor_.close(ec);
  cron_timer_.cancel();
  signals_.cancel();
  // Let connections write replies that became releasable, then stop.
  asio::post(io_, [this] {
    for (auto& [id, client] : clients_) client->Kill();
    io_.stop();
  });
}

asio::awaitable<void> Server::AcceptLoop() {
  while (!shutting_down_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
    if (ec) {
      if (shutting_down_ || ec == asio::error::operation_aborted) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors) {
        asio::steady_timer backoff(io_, std::chrono::milliseconds(100));
        co_await backoff.async_wait(kUseTuple);
      }
      continue;
    }
    asio::co_spawn(io_, ServeClient(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::ServeClient(asio::ip::tcp::socket socket) {
  Client client(io_.get_executor(), next_client_id_++);
  asio::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  auto remote = socket.remote_endpoint(ec);
  auto local = socket.local_endpoint(ec);
  client.addr = remote.address().to_string() + ":" + std::to_string(remote.port());
  client.laddr = local.address().to_string() + ":" + std::to_string(local.port());
  client.fd = socket.native_handle();
  client.created_ms = client.last_interaction_ms = clock_->NowUnixMs();
  client.authenticated = requirepass_.empty();
  client.socket = &socket;
  clients_[client.id] = &client;
  ++total_connections_;

  if (clients_.size() > static_cast<size_t>(config_.maxclients)) {
    static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
    co_await asio::async_write(socket, asio::buffer(kFull), kUseTuple);
    clients_.erase(client.id);
    co_return;
  }

  resp::RequestParserOptions popts;
  if (const std::string* v = runtime_config_.Value("proto-max-bulk-len")) {
    popts.max_bulk_len = std::stoll(*v);
  }
  popts.require_auth = !client.authenticated;
  resp::RequestParser parser(popts);
  std::vector<std::string_view> args;

  // Synchronous reads below return would_block instead of waiting.
  socket.non_blocking(true, ec);
  bool closed = false;
  while (!client.killed && !closed) {
    std::span<char> space = parser.PrepareRead(parser.ReadSizeHint());
    auto [rec, n] =
        co_await socket.async_read_some(asio::buffer(space.data(), space.size()), kUseTuple);
    if (rec) break;
    parser.CommitRead(n);
    // Commands read in this round: what the read brought and, for a
    // pipelining client whose replies must wait for the log, what else has
    // already arrived, so one commit covers it all (a bulk load over one
    // connection would otherwise get one socket read per commit round).
    size_t round_bytes = n;
    size_t read_size = space.size();
    for (int commands = 0;;) {
      for (;;) {
        auto outcome = parser.Next(&args);
        if (outcome == resp::RequestParser::Outcome::kNeedMore) break;
        if (outcome == resp::RequestParser::Outcome::kError) {
          spdlog::debug("client {} protocol error: {}", client.addr, parser.error());
          resp::Writer(&client.out, client.protocol).Error(parser.error());
          client.pending.push_back({client.out.size(), client.wait_index, false, 0});
          client.close_after_reply = true;
          break;
        }
        if (client.peer_id != 0) {
          DispatchPeerFrame(client, args);
          continue;
        }
        Dispatch(client, args);
        parser.set_require_auth(!client.authenticated);
        if (client.blocked()) {
          // A blocking command: nothing after it runs until it has replied.
          co_await WaitUntilReleasable(client);
          if (client.killed) break;
        }
        if (client.close_after_reply) break;
        ++commands;
      }
      if (client.killed || client.close_after_reply || client.out.empty() || Releasable(client))
        break;
      bool pipelining = commands > 1 || n == read_size;
      if (!pipelining || round_bytes >= kReadAheadBytes || client.out.size() >= kReadAheadBytes)
        break;
      space = parser.PrepareRead(parser.ReadSizeHint());
      read_size = space.size();
      n = socket.read_some(asio::buffer(space.data(), space.size()), rec);
      if (rec == asio::error::would_block) break;
      if (rec) {
        closed = true;
        break;
      }
      parser.CommitRead(n);
      round_bytes += n;
    }
    client.query_buffer_bytes = parser.unparsed_bytes();
    if (!client.out.empty()) {
      if (!Releasable(client)) co_await WaitUntilReleasable(client);
      if (client.killed || !Releasable(client)) break;
      auto [wec, written] = co_await asio::async_write(socket, asio::buffer(client.out), kUseTuple);
      client.out.clear();
      client.pending.clear();
      if (wec) break;
    }
    if (client.close_after_reply) break;
  }
  waiting_.erase(client.id);
  clients_.erase(client.id);
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

uint64_t Server::ReleasedIndex() const {
  return replicator_ ? replicator_->read_released_index() : journal_.durable_index();
}

bool Server::Releasable(const Client& c) const {
  if (c.blocked()) return false;
  if (c.wait_index > ReleasedIndex()) return false;
  if (!replicator_) return true;
  return c.write_wait_index <= replicator_->released_index() &&
         c.read_round <= replicator_->confirmed_read_round();
}

asio::awaitable<void> Server::WaitUntilReleasable(Client& client) {
  waiting_[client.id] = &client;
  while (!client.killed && !shutting_down_) {
    if (client.blocked()) {
      resp::Writer w(&client.out, client.protocol);
      bool timed_out = client.block_deadline_mono_ms > 0 &&
                       clock_->MonotonicMs() >= client.block_deadline_mono_ms;
      if (client.block_check(w)) {
        client.block_check = nullptr;
      } else if (timed_out) {
        if (client.block_timeout) client.block_timeout(w);
        client.block_check = nullptr;
      }
      if (!client.blocked()) {
        client.block_timeout = nullptr;
        client.block_deadline_mono_ms = 0;
        client.pending.push_back({client.out.size(), client.wait_index, false, 0});
        break;  // the caller continues with the next command
      }
    } else if (Releasable(client)) {
      break;
    }
    if (client.blocked() && client.block_deadline_mono_ms > 0) {
      client.wake.expires_after(
          std::chrono::milliseconds(client.block_deadline_mono_ms - clock_->MonotonicMs() + 1));
    } else {
      client.wake.expires_at(asio::steady_timer::time_point::max());
    }
    co_await client.wake.async_wait(kUseTuple);
  }
  waiting_.erase(client.id);
}

void Server::WakeReleasableClients() {
  for (auto& [id, client] : waiting_) {
    if (client->blocked() || Releasable(*client)) client->wake.cancel();
  }
}

void Server::OnReplicationProgress() {
  WakeReleasableClients();
  // A busy leader's state is rarely exactly at the commit index; this is a
  // moment when it may be, so an automatic snapshot can start.
  if (replicator_ && replicator_->applied_index() <= replicator_->commit_index()) {
    MaybeAutoSnapshot();
  }
}

void Server::HandlePeerHandshake(Client& c, std::span<const std::string_view> args,
                                 resp::Writer& w) {
  // TANDEM.PEER <cluster-id> <from-id> <to-id> [<secret>]
  int64_t from = 0, to = 0;
  if (args.size() < 4 || args.size() > 5 || !kv::ParseInt64(args[2], &from) ||
      !kv::ParseInt64(args[3], &to)) {
    return w.Error("ERR syntax error");
  }
  if (!replicator_) return w.Error("ERR this node is not part of a cluster");
  if (args[1] != config_.cluster_id) {
    return w.Error("ERR cluster id mismatch: this node belongs to '" + config_.cluster_id + "'");
  }
  if (static_cast<uint64_t>(to) != config_.node_id) {
    return w.Error("ERR this is node " + std::to_string(config_.node_id) + ", not node " +
                   std::to_string(to));
  }
  if (!config_.cluster.count(static_cast<uint64_t>(from)) ||
      static_cast<uint64_t>(from) == config_.node_id) {
    return w.Error("ERR node " + std::to_string(from) + " is not a member of this cluster");
  }
  if (!requirepass_.empty() && (args.size() < 5 || args[4] != requirepass_)) {
    return w.Error("WRONGPASS invalid peer secret");
  }
  c.peer_id = static_cast<uint64_t>(from);
  c.authenticated = true;
  c.name = "peer-" + std::to_string(from);
  // What this build takes beyond the first version of the protocol (the
  // dialer sends it only what it announces; older dialers read any +OK).
  w.SimpleString(std::string("OK ") + kPeerCapabilityCatchUpHint);
  replicator_->PeerDialedIn(c.peer_id);
}

void Server::DispatchPeerFrame(Client& c, std::span<const std::string_view> args) {
  if (args.size() != 2) return;
  if (kv::EqualsIgnoreCase(args[0], "TANDEM.RAFT")) {
    replicator_->OnPeerMessage(c.peer_id, args[1]);
  } else if (kv::EqualsIgnoreCase(args[0], "TANDEM.SNAP")) {
    replicator_->OnSnapshotChunk(c.peer_id, args[1]);
  }
}

void Server::Dispatch(Client& c, std::span<const std::string_view> args) {
  resp::Writer w(&c.out, c.protocol);
  ++total_commands_;
  int64_t now = NowMs();
  c.last_interaction_ms = now;
  bool wrote = false;
  if (kv::EqualsIgnoreCase(args[0], "TANDEM.PEER")) {
    HandlePeerHandshake(c, args, w);
    c.pending.push_back({c.out.size(), c.wait_index, false, 0});
    return;
  }
  const ServerCommand* sc = FindServerCommand(args[0]);
  const kv::CommandSpec* spec = sc ? &sc->spec : kv::FindDataCommand(args[0]);
  int argc = static_cast<int>(args.size());
  if (spec == nullptr) {
    // The state machine writes Redis's unknown-command error.
    state_machine_.Execute(args, w, now, kv::ExecMode::kLeader);
  } else if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity)) {
    ReplyArityError(w, spec->name);
  } else if (!c.authenticated && !(spec->flags & kv::kCmdNoAuth)) {
    w.Error("NOAUTH Authentication required.");
  } else {
    c.last_command = spec->name;
    if (sc != nullptr) {
      sc->handler(*this, c, args, w);
    } else if ((spec->flags & kv::kCmdWrite) && journal_.failed()) {
      w.Error("MISCONF Errors writing to the log: " + journal_.failure().message() +
              ". Writes are refused until the disk works again; reads still work.");
    } else if (replicator_ && replicator_->is_leader() && (spec->flags & kv::kCmdWrite) &&
               !replicator_->accepting_writes()) {
      w.Error("TRYAGAIN leadership is being transferred; retry on the new leader (not applied)");
    } else if (replicator_ && !replicator_->is_leader()) {
      // A follower: reads see committed data only; writes go to the leader.
      if (spec->flags & kv::kCmdWrite) {
        w.Error("READONLY You can't write against a read only replica.");
      } else if (replicator_->state_ahead_of_commit()) {
        // A deposed leader's state may hold writes the cluster has not
        // committed (and may replace): no follower read until it has.
        w.Error("TRYAGAIN this node just stopped leading and holds writes not yet committed; "
                "retry shortly or on the leader");
      } else if (replicator_->ms_since_leader_contact() > config_.max_staleness_ms) {
        w.Error("MASTERDOWN Link with the leader is down for longer than --max-staleness (" +
                std::to_string(config_.max_staleness_ms) +
                " ms); refusing a possibly stale read");
      } else {
        state_machine_.Execute(args, w, now, kv::ExecMode::kReplicaRead);
      }
    } else if (replicator_ && (spec->flags & kv::kCmdWrite) &&
               config_.durability == Durability::kAll && !replicator_->all_voters_healthy()) {
      w.Error("NOREPLICAS Not enough good replicas to write: --durability all needs every voter");
    } else {
      size_t reply_start = c.out.size();
      auto result = state_machine_.Execute(args, w, now, kv::ExecMode::kLeader);
      if (!result.record.commands.empty()) {
        result.record.now_ms = now;
        std::string encoded = kv::EncodeRecord(result.record);
        wrote = true;
        if (replicator_) {
          if (!replicator_->Propose(std::move(encoded)).ok()) {
            // The state was rebuilt without this change: a definite failure.
            c.out.resize(reply_start);
            w.Error("TRYAGAIN this node stopped leading; retry on the new leader (not applied)");
            wrote = false;
          }
        } else {
          journal_.Append(encoded);
          ScheduleFlush();
        }
      }
      if (replicator_ && !wrote) {
        c.read_round = std::max(c.read_round, replicator_->RequestReadRound());
      }
    }
  }
  // Every reply waits for the last entry it may have observed.
  uint64_t last = replicator_ ? replicator_->applied_index() : journal_.last_index();
  if (replicator_ && !replicator_->is_leader()) last = 0;  // follower reads: committed already
  c.wait_index = std::max(c.wait_index, last);
  if (wrote) c.last_write_index = c.write_wait_index = c.wait_index;
  // A blocking command replies later (WaitUntilReleasable records it).
  if (!c.blocked()) c.pending.push_back({c.out.size(), c.wait_index, wrote, c.read_round});
}

void Server::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // Posted twice: the first hop runs after the handlers already queued, the
  // second after the reactor has queued the reads that became ready
  // meanwhile, so one write + fsync covers more clients (group commit).
  asio::post(io_, [this] { asio::post(io_, [this] { Flush(); }); });
}

void Server::Flush() {
  flush_scheduled_ = false;
  if (!journal_.has_unflushed()) return;
  Status st = journal_.Flush(clock_->MonotonicMs());
  if (!st.ok()) return OnJournalFailure(st);
  WakeReleasableClients();
}

void Server::FailPendingReplies(uint64_t keep_upto, const std::string& write_error,
                                const std::string& read_error) {
  uint64_t confirmed = replicator_ ? replicator_->confirmed_read_round() : 0;
  for (auto& [id, client] : waiting_) {
    std::string rewritten;
    size_t start = 0;
    for (auto& p : client->pending) {
      // A read is kept only if its data is kept and its leadership check
      // passed: an unconfirmed read on a deposed leader may be stale.
      bool keep = p.index <= keep_upto && (p.write || p.read_round <= confirmed);
      if (keep) {
        rewritten.append(client->out, start, p.end - start);
      } else {
        rewritten += p.write ? write_error : read_error;
      }
      start = p.end;
      p.index = std::min(p.index, keep_upto);
      p.read_round = 0;
      p.end = rewritten.size();
    }
    client->out = std::move(rewritten);
    client->wait_index = std::min(client->wait_index, keep_upto);
    client->write_wait_index = std::min(client->write_wait_index, keep_upto);
    client->read_round = 0;
    client->wake.cancel();
  }
}

void Server::FailWritesAbove(uint64_t released, const std::string& write_error) {
  for (auto& [id, client] : waiting_) {
    if (client->write_wait_index <= released) continue;
    std::string rewritten;
    size_t start = 0;
    for (auto& p : client->pending) {
      if (p.write && p.index > released) rewritten += write_error;
      else rewritten.append(client->out, start, p.end - start);
      start = p.end;
      p.end = rewritten.size();
    }
    client->out = std::move(rewritten);
    client->write_wait_index = released;
    client->wake.cancel();
  }
}

void Server::OnJournalFailure(const Status& st) {
  uint64_t durable = journal_.durable_index();
  spdlog::error("log write failed: {}; entries after {} are dropped and their writes fail; "
                "writes are refused until the disk works again",
                st.ToString(), durable);
  Status rb = journal_.Rollback();
  if (rb.ok()) rb = RebuildState(durable);
  if (!rb.ok()) {
    spdlog::critical("cannot roll back to the durable state: {}; stopping", rb.ToString());
    exit_code_ = 1;
    RequestShutdown("unrecoverable log failure");
    return;
  }
  // Replies that depended on dropped entries become errors (the writes were
  // not applied); the others are kept, so each client gets one reply per
  // command, in order.
  std::string error = "-ERR write not applied: the log could not be written (" + st.message() +
                      "); the change was rolled back\r\n";
  FailPendingReplies(durable, error, error);
}

void Server::OnLeadershipLost(uint64_t commit) {
  FailPendingReplies(
      commit,
      "-UNKNOWN the write's outcome is unknown: this node lost leadership before the write was "
      "confirmed; it may or may not be applied\r\n",
      "-TRYAGAIN this node lost leadership before the read was confirmed; retry on the new "
      "leader\r\n");
}

void Server::ProbeDisk() {
  int64_t now = clock_->MonotonicMs();
  if (now - last_disk_probe_ms_ < 1000) return;
  last_disk_probe_ms_ = now;
  if (replicator_) return replicator_->RetryFailedJournal();
  // An empty record: applying it changes nothing, writing it proves the disk.
  journal_.Append(kv::EncodeRecord(kv::Record{NowMs(), {}}));
  Status st = journal_.FlushAndSync(now);
  if (st.ok()) {
    journal_.ClearFailure();
    spdlog::warn("the log is writable again; accepting writes");
    return;
  }
  Status rb = journal_.Rollback();
  if (!rb.ok()) spdlog::error("rollback after failed probe: {}", rb.ToString());
}

void Server::StartTimers() {
  cron_timer_.expires_after(std::chrono::milliseconds(1000 / std::max(1, config_.active_expire_hz)));
  cron_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || shutting_down_) return;
    OnCronTick();
    StartTimers();
  });
}

void Server::OnCronTick() {
  int64_t now_mono = clock_->MonotonicMs();
  if (journal_.failed()) {
    ProbeDisk();
  } else if (!replicator_ || replicator_->accepting_writes()) {
    // Keys expire on the leader only; the deletes reach followers as records.
    kv::Record expired = state_machine_.ExpireCycle(NowMs(), 200);
    if (!expired.commands.empty()) {
      expired_keys_ += expired.commands.size();
      if (replicator_) {
        replicator_->Propose(kv::EncodeRecord(expired)).status();  // rebuilds itself on refusal
      } else {
        journal_.Append(kv::EncodeRecord(expired));
        ScheduleFlush();
      }
    }
  }
  // Moves a resize of the key table along (reads and writes move it too), so
  // it finishes and frees the old slot array on an idle node. About 1 ms of
  // work per tick, on every node: followers resize as they apply.
  state_machine_.keyspace().RehashStep(kCronRehashKeys);
  if (!journal_.failed()) {
    Status st = journal_.PeriodicSync(now_mono);
    if (!st.ok()) spdlog::error("periodic fsync failed: {}", st.ToString());
  }
  if (replicator_ && config_.durability == Durability::kAll && replicator_->is_leader() &&
      !replicator_->all_voters_healthy()) {
    // `all` cannot be reached while a voter is down: the waiting writes are
    // probably committed (a majority holds them) but not on every voter.
    FailWritesAbove(replicator_->released_index(),
                    "-UNKNOWN the write's outcome is unknown: a majority holds it but a voter is "
                    "down, so --durability all was not reached\r\n");
  }
  bool snapshot_running = snapshotter_.in_progress();
  if (auto done = snapshotter_.Poll(clock_->NowUnixMs())) {
    pending_compaction_ = *done;
  } else if (snapshot_running && !snapshotter_.in_progress()) {
    journal_.AddBytesSinceSnapshot(log_bytes_at_snapshot_start_);  // it failed
  }
  // Reads stamp access times again once no snapshot child shares the pages.
  state_machine_.keyspace().set_access_tracking(!snapshotter_.child_running());
  // A leader keeps the log a follower is catching up from until it is
  // nearly there (the snapshot itself is done; compacting would make that
  // follower start over with the whole snapshot).
  if (pending_compaction_ && !LeaderKeepsLog()) {
    FinishPendingCompaction();
  }
  MaybeAutoSnapshot();
  MaybeReleaseFreeMemory();
  UpdateHugePages();
  // Blocked clients with deadlines are woken by their own timers; this
  // catches replication changes that did not post progress.
  WakeReleasableClients();
}

void Server::UpdateHugePages() {
  if (config_.huge_pages != HugePages::kWhileLoading || huge_pages_failed_) return;
  bool want = replicator_ && replicator_->building_state();
  if (want == TransparentHugePagesAllowed()) return;
  if (!SetTransparentHugePages(want)) {
    spdlog::warn("cannot {} transparent huge pages ({}); leaving them as they are",
                 want ? "allow" : "forbid", std::strerror(errno));
    huge_pages_failed_ = true;
    return;
  }
  spdlog::info("transparent huge pages {}", want ? "allowed: building the state in bulk"
                                                  : "forbidden: state built");
}

void Server::MaybeReleaseFreeMemory() {
  // Activity: commands served and log entries written (a follower serves
  // few commands but writes every entry).
  uint64_t activity = total_commands_ + journal_.last_index();
  int64_t now = clock_->MonotonicMs();
  if (activity_.Observe(activity, now)) return;
  // Idle for 2 s after activity, and at most every 30 s (a monitor's
  // INFO every second must not trim every second).
  if (activity == activity_at_last_release_ || now - activity_.at_ms < 2000 ||
      (last_release_mono_ms_ != 0 && now - last_release_mono_ms_ < 30000)) {
    return;
  }
  activity_at_last_release_ = activity;
  last_release_mono_ms_ = now;
  FreeMemoryReport r = ReleaseFreeHeapMemory();
  spdlog::debug("idle: returned {} MiB of freed memory to the system in {:.1f} ms",
                (r.rss_before - r.rss_after) >> 20, r.millis);
}

void Server::FinishPendingCompaction() {
  if (!pending_compaction_) return;
  uint64_t index = *pending_compaction_;
  pending_compaction_.reset();
  CompactAfterSnapshot(index);
}

void Server::CompactAfterSnapshot(uint64_t index) {
  if (replicator_) {
    Status st = replicator_->OnSnapshotSaved(index);
    if (!st.ok()) spdlog::warn("replication compaction at {} failed: {}", index, st.ToString());
  }
  Status st = journal_.CompactUpTo(index);
  if (!st.ok()) spdlog::warn("log compaction after snapshot {}: {}", index, st.ToString());
}

uint64_t Server::AutoSnapshotThreshold() const {
  // A large dataset is not rewritten for every --snapshot-log-bytes of log:
  // the log may grow as large as the newest snapshot first (write
  // amplification at most 2x, fewer forks under a sustained load). That is
  // the one loaded, too (just installed from the leader: a follower does
  // not fork again after --snapshot-log-bytes of the log that follows it).
  uint64_t threshold =
      std::max<uint64_t>(config_.snapshot_log_bytes, snapshotter_.last_file_bytes());
  // Members of a cluster grow their logs in step: staggered thresholds
  // (x1, x1.125, x1.25, x1.375 by node id) keep them from forking and
  // writing snapshots all at once on shared cores and disks.
  if (replicator_) threshold += threshold / 8 * ((config_.node_id - 1) % 4);
  return threshold;
}

void Server::MaybeAutoSnapshot() {
  // Observed here, not only in the cron: replication progress between two
  // ticks also gets here, and the log may have grown past the threshold
  // since the last tick saw it (an empty log filled by a burst started a
  // snapshot within 80 ms).
  int64_t now = clock_->MonotonicMs();
  log_growth_.Observe(journal_.last_index(), now);
  command_rate_.Observe(total_commands_, now);
  if (config_.snapshot_log_bytes == 0 || snapshotter_.in_progress() || journal_.failed() ||
      pending_compaction_) {
    return;
  }
  if (journal_.bytes_since_snapshot() < AutoSnapshotThreshold()) return;
  if (snapshot_hold() != SnapshotHold::kNone) return;
  Status st = StartBackgroundSnapshot();
  if (!st.ok()) spdlog::debug("automatic snapshot not started: {}", st.ToString());
}

const char* SnapshotHoldName(SnapshotHold hold) {
  switch (hold) {
    case SnapshotHold::kNone: return "none";
    case SnapshotHold::kWritesFlowing: return "writes-flowing";
    case SnapshotHold::kServingClients: return "serving-clients";
    case SnapshotHold::kCatchingUp: return "catching-up";
    case SnapshotHold::kFollowerCatchingUp: return "follower-catching-up";
    case SnapshotHold::kPeerCatchingUp: return "peer-catching-up";
  }
  return "?";
}

SnapshotHold Server::snapshot_hold() const {
  // A snapshot taken while writes flow competes with them for the two
  // cores: a capture encodes in this loop and writes from a thread (a
  // burst of 400k 1 KB SETs: 62k SET/s with snapshots during the burst
  // against 72-82k with this hold-off); a fork's copy-on-write faults
  // stall the loop for hundreds of ms on this kind of VM (a leader lost
  // the leadership at 1M keys). A majority write waits on a follower as
  // well as on the leader. A catch-up competes the same way (measured:
  // five snapshots of a follower during its own 1 GiB catch-up from the
  // log; the leader's and the other follower's during a new follower's).
  // Either way only until the log reaches 4x the threshold; it is on disk
  // (the resident part is bounded). Likewise while this node is busy with
  // clients' commands (ServingClients).
  if (!replicator_ || !LogUnderHoldCap()) return SnapshotHold::kNone;
  if (WritesFlowing()) return SnapshotHold::kWritesFlowing;
  if (ServingClients()) return SnapshotHold::kServingClients;
  if (replicator_->is_leader()) {
    return replicator_->follower_catching_up(/*from_log_only=*/false)
               ? SnapshotHold::kFollowerCatchingUp
               : SnapshotHold::kNone;
  }
  if (replicator_->catching_up()) return SnapshotHold::kCatchingUp;
  if (replicator_->leader_reports_catch_up()) return SnapshotHold::kPeerCatchingUp;
  return SnapshotHold::kNone;
}

bool Server::LeaderKeepsLog() const {
  // Compacting after a snapshot would cut the entries a catching-up
  // follower is being sent, and it would need the whole new snapshot
  // instead (measured: a new follower of a 1 GiB dataset received a 298 MB
  // snapshot, then the 1.1 GB one).
  return replicator_ && replicator_->is_leader() && LogUnderHoldCap() &&
         replicator_->follower_catching_up(/*from_log_only=*/true);
}

int64_t Server::QuietMs() const {
  // Node i waits for a pause of i seconds (ids mod 4), so after a burst the
  // members snapshot one after another, not all at once.
  return 1000 * (1 + static_cast<int64_t>((config_.node_id - 1) % 4));
}

bool Server::WritesFlowing() const {
  return clock_->MonotonicMs() - log_growth_.at_ms < QuietMs();
}

bool Server::ServingClients() const {
  // A capture encodes in this loop, between the commands it serves.
  return command_rate_.BusyWithin(clock_->MonotonicMs(), QuietMs());
}

bool Server::LogUnderHoldCap() const {
  return journal_.bytes_since_snapshot() < 4 * AutoSnapshotThreshold();
}

Result<Server::SnapshotPoint> Server::CommittedSnapshotPoint() {
  if (!replicator_) {
    Flush();
    if (journal_.failed()) return journal_.failure();
    TANDEM_RETURN_IF_ERROR(journal_.FlushAndSync(clock_->MonotonicMs()));
    return SnapshotPoint{journal_.last_index(), 1, ""};
  }
  // A snapshot holds committed state only: the leader's state may be ahead
  // of the commit index until its latest entries commit.
  uint64_t applied = replicator_->applied_index();
  if (applied > replicator_->commit_index()) {
    return Status::Busy("the state is ahead of the commit index; retry shortly");
  }
  auto meta = replicator_->SnapshotMetaAt(applied);
  if (!meta.ok()) return meta.status();
  return SnapshotPoint{applied, meta->term, replication::EncodeMembership(meta->membership)};
}

Status Server::SaveSnapshot() {
  if (snapshotter_.in_progress()) return Status::Busy("a background snapshot is running");
  FinishPendingCompaction();
  auto point = CommittedSnapshotPoint();
  if (!point.ok()) return point.status();
  TANDEM_RETURN_IF_ERROR(snapshotter_.SaveNow(state_machine_, point->index, point->term,
                                              point->metadata, clock_->NowUnixMs()));
  journal_.ResetBytesSinceSnapshot();
  CompactAfterSnapshot(point->index);
  return Status::Ok();
}

Status Server::StartBackgroundSnapshot() {
  if (snapshotter_.in_progress()) return Status::Busy("a background snapshot is running");
  FinishPendingCompaction();  // the new file replaces the snapshot it is for
  auto point = CommittedSnapshotPoint();
  if (!point.ok()) return point.status();
  TANDEM_RETURN_IF_ERROR(snapshotter_.StartBackground(state_machine_, point->index, point->term,
                                                      point->metadata, clock_->NowUnixMs()));
  // See Keyspace::set_access_tracking.
  state_machine_.keyspace().set_access_tracking(!snapshotter_.child_running());
  log_bytes_at_snapshot_start_ = journal_.bytes_since_snapshot();
  journal_.ResetBytesSinceSnapshot();
  return Status::Ok();
}

}  // namespace tandem::server
