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
#include <csignal>
#include <filesystem>

#include "kv/record.h"
#include "resp/parser.h"
#include "server/server_command.h"

namespace tandem::server {

namespace {
constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
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
  snapshotter_.Init(config_.data_dir + "/snapshots", Env::Default());
  Journal::Options opts;
  opts.dir = config_.data_dir + "/wal";
  opts.fsync = config_.fsync;
  opts.segment_bytes = config_.wal_segment_bytes;
  TANDEM_RETURN_IF_ERROR(journal_.Open(opts));
  auto snap_index = snapshotter_.LoadNewest(state_machine_, journal_.first_index());
  if (!snap_index.ok()) return snap_index.status();
  uint64_t applied = 0;
  TANDEM_RETURN_IF_ERROR(journal_.Replay(*snap_index, [&](uint64_t index, std::string_view payload) {
    auto record = kv::DecodeRecord(payload);
    if (!record.ok()) {
      return Status::Corruption("log entry " + std::to_string(index) +
                                " is not a valid record: " + record.status().message());
    }
    applied = index;
    return state_machine_.Apply(*record);
  }));
  if (journal_.last_index() < *snap_index) {
    // The log holds nothing after the snapshot (it was compacted away).
    TANDEM_RETURN_IF_ERROR(journal_.StartAt(*snap_index + 1));
  }
  spdlog::info("recovered {} keys: snapshot at index {}, {} log entries replayed, log ends at {}",
               state_machine_.keyspace().size(), *snap_index,
               applied > *snap_index ? applied - *snap_index : 0, journal_.last_index());
  return Status::Ok();
}

Status Server::RebuildState() {
  state_machine_.keyspace().Clear();
  auto snap_index = snapshotter_.LoadNewest(state_machine_, journal_.first_index());
  if (!snap_index.ok()) return snap_index.status();
  return journal_.Replay(*snap_index, [&](uint64_t index, std::string_view payload) {
    auto record = kv::DecodeRecord(payload);
    if (!record.ok()) return record.status();
    return state_machine_.Apply(*record);
  });
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
  spdlog::info("tandemd node {} ready on {} (data dir {}, fsync {}, pid {})", config_.node_id,
               config_.listen.host + ":" + std::to_string(bound_port_), config_.data_dir,
               FsyncPolicyName(config_.fsync), getpid());
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

  while (!client.killed) {
    std::span<char> space = parser.PrepareRead(parser.ReadSizeHint());
    auto [rec, n] =
        co_await socket.async_read_some(asio::buffer(space.data(), space.size()), kUseTuple);
    if (rec) break;
    parser.CommitRead(n);
    for (;;) {
      auto outcome = parser.Next(&args);
      if (outcome == resp::RequestParser::Outcome::kNeedMore) break;
      if (outcome == resp::RequestParser::Outcome::kError) {
        spdlog::debug("client {} protocol error: {}", client.addr, parser.error());
        resp::Writer(&client.out, client.protocol).Error(parser.error());
        client.pending.push_back({client.out.size(), client.wait_index});
        client.close_after_reply = true;
        break;
      }
      Dispatch(client, args);
      parser.set_require_auth(!client.authenticated);
      if (client.close_after_reply) break;
    }
    client.query_buffer_bytes = parser.unparsed_bytes();
    if (!client.out.empty()) {
      if (client.wait_index > journal_.durable_index()) co_await WaitUntilReleasable(client);
      if (client.killed || client.wait_index > journal_.durable_index()) break;
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

asio::awaitable<void> Server::WaitUntilReleasable(Client& client) {
  waiting_[client.id] = &client;
  while (client.wait_index > journal_.durable_index() && !client.killed && !shutting_down_) {
    client.wake.expires_at(asio::steady_timer::time_point::max());
    co_await client.wake.async_wait(kUseTuple);
  }
  waiting_.erase(client.id);
}

void Server::WakeReleasableClients() {
  uint64_t durable = journal_.durable_index();
  for (auto& [id, client] : waiting_) {
    if (client->wait_index <= durable) client->wake.cancel();
  }
}

void Server::Dispatch(Client& c, std::span<const std::string_view> args) {
  resp::Writer w(&c.out, c.protocol);
  ++total_commands_;
  int64_t now = NowMs();
  c.last_interaction_ms = now;
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
    } else {
      auto result = state_machine_.Execute(args, w, now, kv::ExecMode::kLeader);
      if (!result.record.commands.empty()) {
        result.record.now_ms = now;
        journal_.Append(kv::EncodeRecord(result.record));
        ScheduleFlush();
      }
    }
  }
  // Every reply waits for the last entry it may have observed to be durable.
  c.wait_index = std::max(c.wait_index, journal_.last_index());
  c.pending.push_back({c.out.size(), c.wait_index});
}

void Server::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  asio::post(io_, [this] { Flush(); });
}

void Server::Flush() {
  flush_scheduled_ = false;
  if (!journal_.has_unflushed()) return;
  Status st = journal_.Flush(clock_->MonotonicMs());
  if (!st.ok()) return OnJournalFailure(st);
  WakeReleasableClients();
}

void Server::OnJournalFailure(const Status& st) {
  uint64_t durable = journal_.durable_index();
  spdlog::error("log write failed: {}; entries after {} are dropped and their writes fail; "
                "writes are refused until the disk works again",
                st.ToString(), durable);
  Status rb = journal_.Rollback();
  if (rb.ok()) rb = RebuildState();
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
  for (auto& [id, client] : waiting_) {
    std::string rewritten;
    size_t start = 0;
    for (auto& p : client->pending) {
      if (p.index <= durable) {
        rewritten.append(client->out, start, p.end - start);
      } else {
        rewritten += error;
      }
      start = p.end;
      p.index = std::min(p.index, durable);
    }
    client->out = std::move(rewritten);
    client->wait_index = durable;
    client->wake.cancel();
  }
}

void Server::ProbeDisk() {
  int64_t now = clock_->MonotonicMs();
  if (now - last_disk_probe_ms_ < 1000) return;
  last_disk_probe_ms_ = now;
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
  } else {
    kv::Record expired = state_machine_.ExpireCycle(NowMs(), 200);
    if (!expired.commands.empty()) {
      expired_keys_ += expired.commands.size();
      journal_.Append(kv::EncodeRecord(expired));
      ScheduleFlush();
    }
    Status st = journal_.PeriodicSync(now_mono);
    if (!st.ok()) spdlog::error("periodic fsync failed: {}", st.ToString());
  }
  if (auto done = snapshotter_.Poll(clock_->NowUnixMs())) {
    Status st = journal_.CompactUpTo(*done);
    if (!st.ok()) spdlog::warn("log compaction after snapshot {} failed: {}", *done, st.ToString());
  }
  MaybeAutoSnapshot();
}

void Server::MaybeAutoSnapshot() {
  if (config_.snapshot_log_bytes == 0 || snapshotter_.in_progress() || journal_.failed()) return;
  if (journal_.bytes_since_snapshot() < config_.snapshot_log_bytes) return;
  Status st = StartBackgroundSnapshot();
  if (!st.ok()) spdlog::warn("automatic snapshot failed to start: {}", st.ToString());
}

Status Server::SaveSnapshot() {
  if (snapshotter_.in_progress()) return Status::Busy("a background snapshot is running");
  Flush();
  if (journal_.failed()) return journal_.failure();
  TANDEM_RETURN_IF_ERROR(journal_.FlushAndSync(clock_->MonotonicMs()));
  uint64_t index = journal_.last_index();
  TANDEM_RETURN_IF_ERROR(snapshotter_.SaveNow(state_machine_, index, 1, clock_->NowUnixMs()));
  journal_.ResetBytesSinceSnapshot();
  return journal_.CompactUpTo(index);
}

Status Server::StartBackgroundSnapshot() {
  if (snapshotter_.in_progress()) return Status::Busy("a background snapshot is running");
  // The snapshot must hold only durable state: flush first.
  Flush();
  if (journal_.failed()) return journal_.failure();
  TANDEM_RETURN_IF_ERROR(journal_.FlushAndSync(clock_->MonotonicMs()));
  TANDEM_RETURN_IF_ERROR(
      snapshotter_.StartBackground(state_machine_, journal_.last_index(), 1, clock_->NowUnixMs()));
  journal_.ResetBytesSinceSnapshot();
  return Status::Ok();
}

}  // namespace tandem::server
