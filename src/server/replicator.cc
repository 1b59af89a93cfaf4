#include "server/replicator.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <fstream>

#include "kv/record.h"
#include "replication/membership.h"
#include "replication/message_codec.h"
#include "server/server.h"
#include "snapshot/snapshot_store.h"
#include "snapshot/snapshot_transfer.h"
#include "util/coding.h"

namespace tandem::server {

namespace {

using replication::Durability;
using replication::Entry;
using replication::EntryType;
using replication::Role;

constexpr int kTickMs = 10;
constexpr size_t kSnapshotChunkBytes = 1 << 20;
constexpr size_t kMaxQueuedSnapshotBytes = 8 << 20;

// How long after streaming a snapshot to a follower a request to send it
// the same snapshot again repeats only the install message. The core gives
// up on a snapshot two election timeouts after asking for it, but a large
// one takes longer than that to stream and load (the follower's loop is
// busy loading); streaming it again would double the transfer. A follower
// that reconnected since (it may have restarted and lost the file) or still
// has not installed it after this grace gets it streamed again.
int64_t SnapshotInstallGraceMs(uint64_t bytes) {
  return 5000 + static_cast<int64_t>(bytes / (20u << 20)) * 1000;  // 5 s + 1 s per 20 MiB
}

Durability ToCoreDurability(server::Durability d) {
  switch (d) {
    case server::Durability::kLeader: return Durability::kLeader;
    case server::Durability::kMajority: return Durability::kMajority;
    case server::Durability::kAll: return Durability::kAll;
  }
  return Durability::kMajority;
}

// TANDEM.SNAP payload: offer (last_index, last_term, total_size), then the
// chunk (offset, checksum, data). docs/replication.md, "Peer links".
std::string EncodeSnapshotChunk(const snapshot::SnapshotOffer& offer,
                                const snapshot::SnapshotChunk& chunk) {
  std::string out;
  PutFixed64(&out, offer.last_index);
  PutFixed64(&out, offer.last_term);
  PutFixed64(&out, offer.total_size);
  PutFixed64(&out, chunk.offset);
  PutFixed32(&out, chunk.checksum);
  out += chunk.data;
  return out;
}

bool DecodeSnapshotChunk(std::string_view in, snapshot::SnapshotOffer* offer,
                         snapshot::SnapshotChunk* chunk) {
  if (in.size() < 36) return false;
  offer->last_index = DecodeFixed64(in.data());
  offer->last_term = DecodeFixed64(in.data() + 8);
  offer->total_size = DecodeFixed64(in.data() + 16);
  chunk->offset = DecodeFixed64(in.data() + 24);
  chunk->checksum = DecodeFixed32(in.data() + 32);
  chunk->data.assign(in.substr(36));
  return true;
}

// A replication entry from the fields the journal stores (an empty
// payload is a null one, as the core keeps no-op entries).
Entry EntryFromJournal(uint64_t term, uint64_t index, uint8_t type, std::string payload) {
  Entry e;
  e.term = term;
  e.index = index;
  e.type = static_cast<EntryType>(type);
  if (!payload.empty()) e.payload = std::make_shared<const std::string>(std::move(payload));
  return e;
}

// The leader's messages that carry Message::peer_catching_up.
bool CarriesCatchUpHint(replication::MessageType type) {
  return type == replication::MessageType::kAppend ||
         type == replication::MessageType::kHeartbeat;
}

}  // namespace

struct Replicator::SnapshotReceive {
  uint64_t from = 0;  // the sender
  snapshot::SnapshotOffer offer;
  std::unique_ptr<snapshot::SnapshotReceiver> receiver;
};

Replicator::Replicator(Server& server, asio::io_context& io, const Config& config,
                       Journal& journal)
    : server_(server),
      io_(io),
      config_(config),
      journal_(journal),
      hard_state_file_(Env::Default(), config.data_dir),
      peers_(io, config),
      tick_timer_(io) {}

Replicator::~Replicator() {
  journal_.SetFlushDone(nullptr);
  peers_.Stop();
}

Status Replicator::Start(uint64_t snapshot_index, uint64_t snapshot_term,
                         const std::string& snapshot_metadata) {
  auto hs = hard_state_file_.Load();
  if (!hs.ok()) return hs.status();
  replication::PersistedState state;
  state.hard_state = *hs;
  state.snapshot.index = snapshot_index;
  state.snapshot.term = snapshot_term;
  if (snapshot_index > 0 && !snapshot_metadata.empty()) {
    auto m = replication::DecodeMembership(snapshot_metadata);
    if (!m.ok()) return Status::Corruption("snapshot membership: " + m.status().message());
    state.snapshot.membership = *m;
  } else {
    for (const auto& [id, addr] : config_.cluster) state.snapshot.membership.voters.push_back(id);
  }
  TANDEM_RETURN_IF_ERROR(journal_.ForEachEntry(
      snapshot_index + 1,
      [&](uint64_t term, uint64_t index, uint8_t type, std::string_view payload) {
        state.entries.push_back(EntryFromJournal(term, index, type, std::string(payload)));
        return Status::Ok();
      }));
  random_ = std::make_unique<replication::SeededRandom>(
      config_.node_id * 0x9e3779b97f4a7c15ull ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  replication::Config rc;
  rc.id = config_.node_id;
  rc.heartbeat_ticks = std::max(1, config_.heartbeat_ms / kTickMs);
  rc.election_ticks = std::max<uint32_t>(rc.heartbeat_ticks * 3, config_.election_timeout_ms / kTickMs);
  // Under load the next batch carries a new commit index within a
  // millisecond; alone it waits at most one tick (10 ms).
  rc.commit_notify_ticks = 1;
  rc.random = random_.get();
  // Only the recent log stays in memory; a peer that lags further is sent
  // entries read back from the WAL.
  rc.max_resident_log_bytes = 4u << 20;
  rc.entry_loader = [this](uint64_t from, uint64_t to, size_t max_bytes,
                           std::vector<Entry>* out) {
    return journal_.ReadEntries(
        from, to, max_bytes, [&](uint64_t term, uint64_t index, uint8_t type, std::string payload) {
          out->push_back(EntryFromJournal(term, index, type, std::move(payload)));
        });
  };
  auto core = replication::Core::Create(rc, std::move(state));
  if (!core.ok()) return core.status();
  core_ = std::move(core).value();
  // A background fsync ends on the log's sync thread: the loop takes over.
  journal_.SetFlushDone([this, alive = std::weak_ptr<int>(alive_)] {
    asio::post(io_, [this, alive] {
      if (alive.lock()) OnJournalFlushed();
    });
  });
  applied_index_ = handed_commit_ = snapshot_index;
  applied_term_ = snapshot_term;
  peers_.Start();
  ScheduleTick();
  spdlog::info("replication: node {} of {} voters, term {}, log {}..{}", config_.node_id,
               config_.cluster.size(), hs->term, journal_.first_index(), journal_.last_index());
  return Status::Ok();
}

void Replicator::ScheduleTick() {
  tick_timer_.expires_after(std::chrono::milliseconds(kTickMs));
  tick_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    CatchUpTicks();
    DropIdleStagedLoad();
    RefreshPeerCatchingUp();
    ProcessReady();
    ScheduleTick();
  });
}

void Replicator::CatchUpTicks() {
  // Ticks follow the monotonic clock, not the number of timer wake-ups: a
  // process paused (SIGSTOP) or starved for a second must see a second
  // pass, so its lease and its check-quorum expire before it serves again.
  int64_t now = server_.clock().MonotonicMs();
  if (last_tick_mono_ms_ == 0) last_tick_mono_ms_ = now;
  int64_t due = (now - last_tick_mono_ms_) / kTickMs;
  if (due <= 0) return;
  if (due * kTickMs >= config_.election_timeout_ms / 2) {
    // The loop did not run for a long time (a long fsync, CPU starvation,
    // SIGSTOP): leases and elections may be affected; say so.
    spdlog::warn("event loop stalled for {} ms (ticks caught up)", due * kTickMs);
    ++loop_stalls_;
    longest_loop_stall_ms_ = std::max(longest_loop_stall_ms_, due * kTickMs);
  }
  // Past a few election timeouts more ticks change nothing.
  int64_t cap = 4 * std::max<int64_t>(1, config_.election_timeout_ms / kTickMs);
  core_->TickMany(static_cast<uint64_t>(std::min(due, cap)));
  last_tick_mono_ms_ += due * kTickMs;
}

void Replicator::DropIdleStagedLoad() {
  // A stream that stopped for good (another leader caught this node up
  // from its log, say) must not keep a partial keyspace's memory.
  // (Once every byte is in, the load's own news finishes the receive.)
  constexpr int64_t kStagedLoadIdleMs = 30000;
  if (staged_ && !(receive_ && receive_->receiver->complete()) &&
      server_.clock().MonotonicMs() - last_snapshot_chunk_mono_ms_ > kStagedLoadIdleMs) {
    spdlog::info("snapshot stream idle for {} s: dropping the state loaded from it so far",
                 kStagedLoadIdleMs / 1000);
    staged_.reset();
  }
}

void Replicator::RefreshPeerCatchingUp() {
  constexpr int64_t kCheckEveryMs = 100;
  if (!core_->IsLeader()) {
    peer_catching_up_ = false;
    return;
  }
  int64_t now = server_.clock().MonotonicMs();
  if (now - peer_catching_up_checked_mono_ms_ < kCheckEveryMs) return;
  peer_catching_up_checked_mono_ms_ = now;
  peer_catching_up_ = follower_catching_up(/*from_log_only=*/false);
}

void Replicator::Stop() {
  stopped_ = true;
  tick_timer_.cancel();
  peers_.Stop();
}

bool Replicator::is_leader() const { return core_->IsLeader(); }
uint64_t Replicator::leader_id() const { return core_->leader(); }
uint64_t Replicator::commit_index() const { return core_->commit_index(); }
bool Replicator::catching_up() const {
  return !core_->IsLeader() &&
         core_->leader_commit_index() > applied_index_ + kCatchingUpLagEntries;
}
bool Replicator::building_state() const {
  constexpr int64_t kLiveSnapshotStreamMs = 2000;
  if (core_->IsLeader()) return false;
  if (!leader_commit_seen_ || catching_up()) return true;
  if (received_snapshot_index_ > applied_index_) return true;
  return receive_ != nullptr &&
         server_.clock().MonotonicMs() - last_snapshot_chunk_mono_ms_ < kLiveSnapshotStreamMs;
}
replication::CoreStatus Replicator::status() const { return core_->GetStatus(); }

std::optional<HostPort> Replicator::leader_address() const {
  uint64_t leader = core_->leader();
  if (leader == config_.node_id) return config_.advertise;
  auto it = config_.cluster.find(leader);
  if (it == config_.cluster.end()) return std::nullopt;
  return it->second;
}

int64_t Replicator::ms_since_leader_contact() const {
  if (core_->IsLeader()) return 0;
  if (last_leader_contact_mono_ms_ == 0) return INT64_MAX;
  return server_.clock().MonotonicMs() - last_leader_contact_mono_ms_;
}

std::string Replicator::last_election_reason() const {
  return core_->GetStatus().last_election_reason;
}

bool Replicator::accepting_writes() const {
  // Asked before every write: not GetStatus(), which copies the membership,
  // the last election's reason and a vector of peers (1.7% of a leader's
  // samples under SET -P 16 in its reallocations alone).
  return core_->IsLeader() && core_->transfer_target() == replication::kNoNode;
}

Result<uint64_t> Replicator::Propose(std::string record) {
  auto id = core_->Propose(std::move(record), ToCoreDurability(config_.durability));
  if (!id.ok()) {
    // The server applied the record already; take it out again.
    spdlog::warn("proposal refused: {}", id.status().ToString());
    if (core_->IsLeader()) {
      // Still leading (callers check accepting_writes(), so this is a bug
      // guard): every entry up to applied is ours and in the log.
      ProcessReady();
      Status st = journal_.Flush(server_.clock().MonotonicMs());
      if (st.ok()) st = server_.RebuildState(applied_index_);
      if (!st.ok()) server_.RequestShutdown("cannot undo a refused proposal");
    } else {
      // The record is in no log: rebuild from what the journal holds.
      uint64_t commit = core_->commit_index();
      RebuildTo(std::min(commit, journal_.last_index()));
      server_.OnLeadershipLost(commit);
    }
    return id.status();
  }
  applied_index_ = id->index;  // the server applied it already
  applied_term_ = id->term;
  ScheduleReady();
  return id->index;
}

uint64_t Replicator::released_index() const {
  switch (config_.durability) {
    case server::Durability::kLeader:
      return journal_.durable_index();
    case server::Durability::kMajority:
      return core_->commit_index();
    case server::Durability::kAll: {
      uint64_t all = std::min(journal_.durable_index(), core_->commit_index());
      for (const auto& p : core_->GetStatus().peers) {
        if (p.voter) all = std::min<uint64_t>(all, p.match);
      }
      return all;
    }
  }
  return core_->commit_index();
}

uint64_t Replicator::read_released_index() const {
  if (config_.durability == server::Durability::kLeader) return journal_.durable_index();
  return core_->commit_index();
}

uint64_t Replicator::RequestReadRound() {
  // Time may have passed (a pause): the lease is judged on the clock's ticks.
  CatchUpTicks();
  if (core_->HasReady()) ScheduleReady();
  // Under a valid lease the read needs no round: it is confirmed already.
  if (core_->CanReadUnderLease()) return confirmed_read_round_;
  requested_read_round_ = next_read_round_;
  ScheduleReady();
  return requested_read_round_;
}

bool Replicator::all_voters_healthy() const {
  uint64_t limit = static_cast<uint64_t>(config_.election_timeout_ms / kTickMs);
  for (const auto& p : core_->GetStatus().peers) {
    if (p.voter && p.ticks_since_ack > limit) return false;
  }
  return true;
}

std::vector<FollowerInfo> Replicator::followers() const {
  std::vector<FollowerInfo> out;
  auto st = core_->GetStatus();
  for (const auto& p : st.peers) {
    if (p.id == config_.node_id) continue;
    FollowerInfo f;
    f.id = p.id;
    if (auto it = config_.cluster.find(p.id); it != config_.cluster.end()) f.address = it->second;
    f.voter = p.voter;
    f.match_index = p.match;
    f.last_ack_ms = static_cast<int64_t>(p.ticks_since_ack) * kTickMs;
    f.connected = peers_.connected(p.id);
    out.push_back(f);
  }
  return out;
}

bool Replicator::follower_catching_up(bool from_log_only) const {
  if (!core_->IsLeader()) return false;
  uint64_t last = journal_.last_index();
  for (const FollowerInfo& f : followers()) {
    bool active = f.connected && f.last_ack_ms >= 0 && f.last_ack_ms < 1000;
    if (!active || f.match_index + kCatchingUpLagEntries >= last) continue;
    if (!from_log_only || f.match_index + 1 >= journal_.first_index()) return true;
  }
  return false;
}

bool Replicator::leader_reports_catch_up() const {
  constexpr int64_t kHintValidMs = 2000;
  return !core_->IsLeader() && leader_catch_up_hint_mono_ms_ != 0 &&
         server_.clock().MonotonicMs() - leader_catch_up_hint_mono_ms_ < kHintValidMs;
}

void Replicator::OnPeerMessage(uint64_t from, std::string_view bytes) {
  auto msg = replication::DecodeMessage(bytes);
  if (!msg.ok()) {
    spdlog::warn("dropping a malformed message from peer {}: {}", from, msg.status().ToString());
    return;
  }
  if (msg->from != from) {
    spdlog::warn("peer {} sent a message claiming to be from {}", from, msg->from);
    return;
  }
  bool leader_hint = CarriesCatchUpHint(msg->type);
  // Only a leader sends these: they count as contact with the leader.
  if (leader_hint || msg->type == replication::MessageType::kSnapshot) {
    last_leader_contact_mono_ms_ = server_.clock().MonotonicMs();
  }
  bool peer_catching_up = msg->peer_catching_up;
  uint64_t msg_term = msg->term;
  Status st = core_->Step(std::move(msg).value());
  if (!st.ok()) spdlog::debug("peer {} message rejected: {}", from, st.ToString());
  // Only from the current leader (a peer: not this node), in its current
  // term (a stale message of a node leading again, in a later term, says
  // nothing now).
  if (leader_hint && st.ok() && core_->leader() == from && msg_term == core_->term()) {
    leader_catch_up_hint_mono_ms_ = peer_catching_up ? server_.clock().MonotonicMs() : 0;
  }
  if (core_->leader_commit_index() > 0) leader_commit_seen_ = true;
  if (core_->IsLeader() != was_leader_) {
    // The role changed: bring the server's state in line (apply the log on
    // becoming leader, rebuild on losing it) before any other handler runs.
    ProcessReady();
  } else {
    ScheduleReady();
  }
}

void Replicator::OnSnapshotChunk(uint64_t from, std::string_view bytes) {
  snapshot::SnapshotOffer offer;
  snapshot::SnapshotChunk chunk;
  if (!DecodeSnapshotChunk(bytes, &offer, &chunk)) {
    spdlog::warn("malformed snapshot chunk from peer {}", from);
    return;
  }
  if (core_->leader() != replication::kNoNode && from != core_->leader()) {
    // A deposed leader's stream still in flight. Taking its chunks would
    // restart the receiver between two offers at every chunk, and neither
    // transfer would complete. (With no leader known, say between an
    // election timeout and the next heartbeat, the chunks are kept.)
    return;
  }
  if (receive_ && receive_->from != from && core_->leader() == replication::kNoNode) {
    // No leader known: the stream being received goes on; switching at
    // every chunk of two senders would start over each time.
    return;
  }
  if (!receive_ || receive_->offer.last_index != offer.last_index ||
      receive_->offer.last_term != offer.last_term ||
      receive_->offer.total_size != offer.total_size || receive_->from != from) {
    staged_.reset();  // its thread reads the receive file: stopped first
    pending_install_.reset();
    if (receive_ && receive_->from != from) {
      // A new leader streams its own file of the same snapshot: its bytes
      // differ, so none of the old sender's are kept (measured: a follower
      // that resumed another node's file at 85 MiB failed verification).
      spdlog::info("snapshot stream now from peer {} (was peer {}): starting over", from,
                   receive_->from);
      Status discard = receive_->receiver->Discard();
      if (!discard.ok()) spdlog::warn("cannot discard received bytes: {}", discard.ToString());
    }
    // Staged apart: a received snapshot is not this node's until installed.
    auto r = snapshot::SnapshotReceiver::Open(Env::Default(),
                                              server_.snapshot_dir() + "/incoming", offer);
    if (!r.ok()) {
      spdlog::error("cannot receive snapshot {}: {}", offer.last_index, r.status().ToString());
      receive_.reset();
      return;
    }
    receive_ = std::make_unique<SnapshotReceive>();
    receive_->from = from;
    receive_->offer = offer;
    receive_->receiver = std::move(r).value();
    // Loaded as it arrives when this node holds nothing (a second
    // keyspace's memory otherwise) and the transfer starts at byte 0.
    bool stage = receive_->receiver->next_offset() == 0 &&
                 server_.state_machine().keyspace().size() == 0;
    if (stage) {
      auto load = StagedSnapshotLoad::Start(
          Env::Default(), offer, receive_->receiver->path(),
          [this, alive = std::weak_ptr<int>(alive_)] {
            asio::post(io_, [this, alive] {
              if (alive.lock()) MaybeFinishReceive();
            });
          });
      if (load.ok()) {
        staged_ = std::move(load).value();
      } else {
        spdlog::warn("cannot load the snapshot as it arrives: {}", load.status().ToString());
        stage = false;
      }
    }
    spdlog::info("receiving snapshot at index {} ({} bytes) from peer {}{}", offer.last_index,
                 offer.total_size, from, stage ? ", loading it as it arrives" : "");
  }
  Status st = receive_->receiver->WriteChunk(chunk);
  if (!st.ok()) {
    spdlog::warn("snapshot chunk at {} rejected: {}", chunk.offset, st.ToString());
    return;
  }
  last_snapshot_chunk_mono_ms_ = server_.clock().MonotonicMs();
  if (staged_) {
    staged_->Advance(receive_->receiver->next_offset());
    if (staged_->failed()) {
      spdlog::warn("loading the snapshot as it arrives stopped ({}); it will be loaded once "
                   "received", staged_->error().ToString());
      staged_.reset();
    }
  }
  MaybeFinishReceive();
}

void Replicator::MaybeFinishReceive() {
  // A load still behind reports when it catches up (posted here), so the
  // loop never waits for it.
  if (receive_ && receive_->receiver->complete() && (!staged_ || staged_->idle())) {
    FinishReceive();
  }
}

void Replicator::FinishReceive() {
  const snapshot::SnapshotOffer offer = receive_->offer;
  // Bytes the staged load verified are not read again.
  bool verified = staged_ && staged_->WaitComplete();
  if (staged_ && !verified) {
    spdlog::warn("loading the snapshot as it arrived {}; it will be loaded from the file",
                 staged_->failed() ? "failed (" + staged_->error().ToString() + ")"
                                   : "did not complete: the file ended early");
    staged_.reset();
  }
  auto info = receive_->receiver->Finish(/*keep=*/2, verified ? &staged_->meta() : nullptr);
  if (!info.ok()) {
    spdlog::error("received snapshot failed verification: {}", info.status().ToString());
    staged_.reset();
  } else {
    spdlog::info("snapshot at index {} received: {}", offer.last_index, info->path);
    received_snapshot_index_ = offer.last_index;
    received_snapshot_path_ = info->path;
  }
  receive_.reset();
  if (pending_install_) {
    replication::SnapshotMeta meta = *pending_install_;
    pending_install_.reset();
    InstallSnapshot(meta);
    ScheduleReady();  // the core's answer to the install goes out
  }
}

void Replicator::SendSnapshot(const replication::Message& msg) {
  if (snapshot_sending_.count(msg.to)) return;
  if (auto sent = snapshot_sent_.find(msg.to);
      sent != snapshot_sent_.end() && sent->second.index == msg.snapshot.index &&
      sent->second.connection == peers_.connections(msg.to) &&
      server_.clock().MonotonicMs() - sent->second.done_mono_ms <
          SnapshotInstallGraceMs(sent->second.bytes)) {
    // Just streamed over this same connection (the follower did not
    // restart since): it has the bytes and is probably loading them.
    // Repeat the install message only.
    peers_.SendMessage(msg.to, replication::EncodeMessage(msg));
    return;
  }
  // By name only: verifying a large snapshot here would stall the loop for
  // seconds, and the receiver verifies every chunk and the whole file.
  auto snapshots = snapshot::ListSnapshots(Env::Default(), server_.snapshot_dir());
  const snapshot::SnapshotInfo* chosen = nullptr;
  if (snapshots.ok()) {
    for (const auto& info : *snapshots) {
      if (info.meta.last_index == msg.snapshot.index) chosen = &info;
    }
  }
  if (chosen == nullptr) {
    spdlog::warn("cannot send snapshot {} to peer {}: not on disk", msg.snapshot.index, msg.to);
    return;
  }
  auto source = snapshot::SnapshotChunkSource::Open(Env::Default(), chosen->path);
  if (!source.ok()) {
    spdlog::warn("cannot open snapshot for peer {}: {}", msg.to, source.status().ToString());
    return;
  }
  snapshot_sending_.insert(msg.to);
  spdlog::info("sending snapshot at index {} ({} bytes) to peer {}", msg.snapshot.index,
               (*source)->offer().total_size, msg.to);
  asio::co_spawn(io_, StreamSnapshot(msg, std::shared_ptr(std::move(source).value())),
                 asio::detached);
}

asio::awaitable<void> Replicator::StreamSnapshot(
    replication::Message msg, std::shared_ptr<snapshot::SnapshotChunkSource> source) {
  constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
  asio::steady_timer pause(io_);
  uint64_t offset = 0;
  bool ok = true;
  auto leading = [&] { return core_->IsLeader() && core_->term() == msg.term; };
  while (!stopped_ && offset < source->offer().total_size) {
    if (!peers_.connected(msg.to) || !leading()) {
      ok = false;  // gone, or no longer this term's leader: the new one sends its own
      break;
    }
    if (peers_.queued_bytes(msg.to) > kMaxQueuedSnapshotBytes) {
      pause.expires_after(std::chrono::milliseconds(2));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    auto chunk = source->ReadChunk(offset, kSnapshotChunkBytes);
    if (!chunk.ok() || chunk->data.empty()) {
      ok = false;
      break;
    }
    if (!peers_.SendSnapshotChunk(msg.to, EncodeSnapshotChunk(source->offer(), *chunk))) {
      ok = false;
      break;
    }
    offset += chunk->data.size();
    // One chunk per loop turn. While the follower keeps up, the queue never
    // fills and nothing above waits: without this the loop streamed the whole
    // file in one turn (1.4 s for 326 MB here), answered nobody meanwhile,
    // and the followers elected a new leader.
    co_await asio::post(io_, asio::use_awaitable);
  }
  if (ok && !stopped_) {
    peers_.SendMessage(msg.to, replication::EncodeMessage(msg));
    snapshot_sent_[msg.to] = {msg.snapshot.index, server_.clock().MonotonicMs(),
                              source->offer().total_size, peers_.connections(msg.to)};
  }
  if (!ok) {
    spdlog::info("snapshot transfer to peer {} {}", msg.to,
                 leading() ? "interrupted; the leader will retry"
                           : "stopped: no longer the leader of that term");
  }
  snapshot_sending_.erase(msg.to);
}

void Replicator::InstallSnapshot(const replication::SnapshotMeta& meta) {
  if (receive_ && receive_->receiver->complete() && receive_->offer.last_index == meta.index &&
      receive_->offer.last_term == meta.term) {
    // Every byte is in: the install runs when the receive finishes (at
    // once, unless the staged load is still catching up on its thread).
    pending_install_ = meta;
    MaybeFinishReceive();
    return;
  }
  if (!core_->InstallStillWanted(meta)) {
    // Held for the staged load while appends from a new leader committed
    // past it, say: installing now would roll the state back.
    spdlog::info("snapshot {} no longer to be installed (commit index {})", meta.index,
                 core_->commit_index());
    staged_.reset();
    return;
  }
  if (received_snapshot_index_ != meta.index) {
    spdlog::warn("asked to install snapshot {} but it was not received (have {})", meta.index,
                 received_snapshot_index_);
    return;
  }
  std::string name = received_snapshot_path_.substr(received_snapshot_path_.rfind('/') + 1);
  Env* env = Env::Default();
  Status st = env->CreateDirs(server_.snapshot_dir());
  if (st.ok()) st = env->RenameFile(received_snapshot_path_, server_.snapshot_dir() + "/" + name);
  if (st.ok()) st = env->SyncDir(server_.snapshot_dir());
  if (st.ok()) st = journal_.ResetTo(meta.index + 1, meta.term);
  bool adopt = staged_ && staged_->offer().last_index == meta.index &&
               staged_->offer().last_term == meta.term && staged_->WaitComplete();
  // Not adopted: freed before the file is loaded, not beside it.
  if (!adopt) staged_.reset();
  if (st.ok()) {
    st = adopt ? server_.AdoptState(staged_->state(), meta.index,
                                    server_.snapshot_dir() + "/" + name,
                                    staged_->meta().created_unix_ms)
               : server_.RebuildState(meta.index);
  }
  staged_.reset();
  if (!st.ok()) {
    spdlog::critical("cannot install snapshot {}: {}", meta.index, st.ToString());
    server_.RequestShutdown("snapshot install failed");
    return;
  }
  applied_index_ = meta.index;
  applied_term_ = meta.term;
  handed_commit_ = std::max(handed_commit_, meta.index);
  received_snapshot_index_ = 0;
  spdlog::info("installed snapshot at index {} ({} keys{})", meta.index,
               server_.state_machine().keyspace().size(),
               adopt ? ", loaded as it arrived" : "");
  st = core_->OnSnapshotInstalled(meta);
  if (!st.ok()) spdlog::error("core refused installed snapshot: {}", st.ToString());
}

void Replicator::ScheduleReady() {
  if (ready_scheduled_ || stopped_) return;
  ready_scheduled_ = true;
  asio::post(io_, [this] {
    ready_scheduled_ = false;
    ProcessReady();
  });
}

void Replicator::ProcessReady() {
  if (stopped_) return;
  CatchUpTicks();
  if (requested_read_round_ > inflight_read_round_ && core_->IsLeader()) {
    inflight_read_round_ = requested_read_round_;
    ++next_read_round_;
    Status st = core_->ReadIndex(inflight_read_round_, replication::ReadMode::kLease);
    if (!st.ok()) inflight_read_round_ = confirmed_read_round_;
  }
  int rounds = 0;
  while (core_->HasReady() && rounds++ < 64) HandleReady(core_->TakeReady());
  if (journal_.has_unflushed() && !journal_.failed()) FlushJournal();
  server_.OnReplicationProgress();
}

void Replicator::FlushJournal() {
  // Durable as the fsync policy defines it. A leader's fsync (`always`)
  // runs on the log's sync thread while its loop goes on: it reads the
  // followers' acknowledgements (a majority of durable copies commits
  // without its own), new requests, sends replies; OnJournalFlushed reports
  // it. A follower waits for its disk: its answer needs the fsync and
  // nothing else, and a hand-off to another thread and back would only
  // lengthen the leader's round trip (measured: SET -P 1 15k/s against 19k
  // with followers syncing in the loop). Unless the follower is catching up:
  // then no client waits on its answer, and the loop takes in the next
  // batches while the disk writes the last ones (one fsync covers several).
  int64_t now = server_.clock().MonotonicMs();
  Status st = core_->IsLeader() || catching_up() ? journal_.StartFlush(now) : journal_.Flush(now);
  if (!st.ok()) {
    spdlog::error("log write failed: {}; will retry", st.ToString());
    return;
  }
  ReportDurable();
}

void Replicator::ReportDurable() {
  uint64_t durable = journal_.durable_index();
  core_->AdvanceDurable(durable, journal_.TermAt(durable));  // no-op unless it moved
}

void Replicator::OnJournalFlushed() {
  if (stopped_) return;
  Status st = journal_.FinishFlush(server_.clock().MonotonicMs());
  if (!st.ok()) {
    spdlog::error("log write failed: {}; will retry", st.ToString());
    return;
  }
  ReportDurable();
  // The entries written while that fsync ran get the next one (in there).
  ProcessReady();
}

void Replicator::RetryFailedJournal() {
  if (!journal_.failed()) return;
  journal_.ClearFailure();
  Status st = journal_.Flush(server_.clock().MonotonicMs());  // waits: this is the probe
  if (!st.ok()) {
    spdlog::error("log write failed: {}; will retry", st.ToString());
    return;
  }
  ReportDurable();
  spdlog::warn("the log is writable again");
  ScheduleReady();
}

void Replicator::HandleReady(replication::Ready rd) {
  if (rd.hard_state) {
    Status st = hard_state_file_.Save(*rd.hard_state);
    if (!st.ok()) {
      // Sending messages without the vote on disk could elect two leaders.
      spdlog::critical("cannot persist term and vote: {}; stopping", st.ToString());
      server_.RequestShutdown("hard state write failed");
      stopped_ = true;
      return;
    }
  }
  if (applied_index_ > handed_commit_) {
    // Entries applied ahead of commit (as leader) must still be in the log
    // as they were applied: same term at the last one means the same
    // entries (log matching). A new leader may have replaced them, even
    // ones never written to the journal; then go back to the committed
    // prefix, which the journal holds (this Ready's changes are not
    // written yet).
    auto term = core_->log().TermAt(applied_index_);
    if (!term || *term != applied_term_) RebuildTo(handed_commit_);
  }
  if (rd.snapshot_to_install) InstallSnapshot(*rd.snapshot_to_install);
  if (rd.truncate_after) {
    if (config_.durability == server::Durability::kLeader) SaveTruncatedEntries(*rd.truncate_after);
    Status st = journal_.TruncateAfter(*rd.truncate_after);
    if (!st.ok()) spdlog::error("log truncation failed: {}", st.ToString());
  }
  for (const Entry& e : rd.entries) {
    Status st = journal_.AppendEntry(e.term, e.index, static_cast<uint8_t>(e.type), e.data());
    if (!st.ok()) {
      spdlog::critical("log append refused: {}", st.ToString());
      break;
    }
  }
  for (auto& m : rd.messages) {
    if (CarriesCatchUpHint(m.type)) {
      m.peer_catching_up = peer_catching_up_ && peers_.takes_catch_up_hint(m.to);
    }
    if (m.type == replication::MessageType::kSnapshot) {
      SendSnapshot(m);
    } else {
      peers_.SendMessage(m.to, replication::EncodeMessage(m));
    }
  }
  // Persist this Ready's entries now: the messages above are already on
  // their way, so the fsync overlaps the network round trip.
  if (journal_.has_unflushed() && !journal_.failed()) FlushJournal();
  ApplyCommitted(rd.committed_entries);
  for (const auto& r : rd.reads) {
    if (r.ok) confirmed_read_round_ = std::max(confirmed_read_round_, r.request_id);
  }
  if (!rd.rolled_back.empty() && !(rd.truncate_after &&
                                   config_.durability == server::Durability::kLeader)) {
    WriteRollbackFile(rd.rolled_back, /*uncertain=*/false);  // else saved at the truncation
  }
  if (!rd.maybe_rolled_back.empty()) WriteRollbackFile(rd.maybe_rolled_back, /*uncertain=*/true);
  if (rd.soft_state) OnLeadershipChange(*rd.soft_state);
}

void Replicator::RebuildTo(uint64_t index) {
  spdlog::warn("state goes back to index {} (entries up to {} were applied as leader and are "
               "not all in the current leader's log)",
               index, applied_index_);
  Status st = server_.RebuildState(index);
  if (!st.ok()) {
    spdlog::critical("cannot rebuild the committed state: {}; stopping", st.ToString());
    server_.RequestShutdown("rebuild after losing leadership failed");
    stopped_ = true;
    return;
  }
  applied_index_ = index;
  applied_term_ = core_->log().TermAt(index).value_or(0);
}

void Replicator::ApplyCommitted(const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    handed_commit_ = std::max(handed_commit_, e.index);
    if (e.index <= applied_index_) continue;  // the leader applied its own already
    if (e.type == EntryType::kNormal) {
      Status st = server_.state_machine().ApplyEncoded(e.data());
      if (!st.ok()) {
        spdlog::critical("cannot apply committed entry {}: {}", e.index, st.ToString());
        server_.RequestShutdown("apply failed");
        stopped_ = true;
        return;
      }
    }
    applied_index_ = e.index;
    applied_term_ = e.term;
  }
}

void Replicator::OnLeadershipChange(const replication::SoftState& soft) {
  bool leading = soft.role == Role::kLeader;
  if (soft.leader != kNoLeader && soft.leader != last_known_leader_) {
    last_election_unix_ms_ = server_.clock().NowUnixMs();
    last_known_leader_ = soft.leader;
    spdlog::info("term {}: leader is node {}{}", soft.term, soft.leader,
                 leading ? " (this node)" : "");
  }
  if (soft.leader != kNoLeader && !leading) {
    last_leader_contact_mono_ms_ = server_.clock().MonotonicMs();
  }
  if (leading && !was_leader_) {
    staged_.reset();  // a leader installs no snapshot: free the staged one's memory
    pending_install_.reset();
    MaybeFinishReceive();  // a complete receive: from the file
    // Entries already in this node's log (from earlier terms, not yet
    // applied here) are applied now, ahead of commit like the leader's own:
    // as leader this log is authoritative.
    Status st = journal_.ForEachEntry(
        applied_index_ + 1, [&](uint64_t term, uint64_t index, uint8_t type, std::string_view p) {
          if (index > core_->log().last_index()) return Status::Ok();
          if (static_cast<EntryType>(type) == EntryType::kNormal) {
            TANDEM_RETURN_IF_ERROR(server_.state_machine().ApplyEncoded(p));
          }
          applied_index_ = index;
          applied_term_ = term;
          return Status::Ok();
        });
    if (!st.ok()) {
      spdlog::critical("cannot apply the log on becoming leader: {}", st.ToString());
      server_.RequestShutdown("apply failed");
    }
    // Entries still only in memory (not yet in the journal) are ours.
    if (core_->log().last_index() > applied_index_) {
      applied_index_ = core_->log().last_index();
      applied_term_ = core_->log().last_term();
    }
  } else if (!leading && was_leader_) {
    // Entries applied ahead of commit stay applied: the new leader usually
    // holds them and commits them. If it replaces any, HandleReady sees the
    // term at the applied index change and rebuilds; until the entries are
    // committed follower reads are refused. Rebuilding here would reload
    // the whole dataset for nothing.
    uint64_t commit = core_->commit_index();
    spdlog::warn("no longer leader (term {}); {} entries applied after the committed index {} "
                 "wait for the new leader",
                 soft.term, applied_index_ > commit ? applied_index_ - commit : 0, commit);
    server_.OnLeadershipLost(commit);
    requested_read_round_ = inflight_read_round_ = confirmed_read_round_;
    // Until it hears from the new leader this node's data may be behind
    // what that leader acknowledged: refuse follower reads (MASTERDOWN).
    if (soft.leader == kNoLeader) last_leader_contact_mono_ms_ = 0;
  }
  was_leader_ = leading;
}

void Replicator::SaveTruncatedEntries(uint64_t after) {
  // Under --durability leader a leader acknowledges before replicating, so
  // any entry cut from this log may have been acknowledged, by this node
  // (even before a restart, when the core no longer knows it led) or by
  // another deposed leader. Save them all: never lose one silently.
  std::vector<Entry> cut;
  Status st = journal_.ForEachEntry(
      after + 1, [&](uint64_t term, uint64_t index, uint8_t type, std::string_view payload) {
        if (static_cast<EntryType>(type) != EntryType::kNormal) return Status::Ok();
        cut.push_back(EntryFromJournal(term, index, type, std::string(payload)));
        return Status::Ok();
      });
  if (!st.ok()) spdlog::error("cannot read entries to roll back: {}", st.ToString());
  if (!cut.empty()) WriteRollbackFile(cut, /*uncertain=*/false);
}

void Replicator::WriteRollbackFile(const std::vector<Entry>& entries, bool uncertain) {
  std::string path = config_.data_dir + "/rollback-" +
                     std::to_string(server_.clock().NowUnixMs()) + ".txt";
  std::ofstream out(path, std::ios::app);
  out << "# tandem rollback file v1: entries this node wrote as leader that the cluster's log "
         "does not hold"
      << (uncertain ? " (uncertain: replaced by a snapshot that may contain them)" : "") << "\n";
  for (const Entry& e : entries) {
    out << "entry index=" << e.index << " term=" << e.term;
    if (e.type == EntryType::kNormal) {
      auto record = kv::DecodeRecord(e.data());
      if (record.ok()) {
        out << " time_ms=" << record->now_ms << "\n";
        for (const auto& argv : record->commands) {
          out << " ";
          for (const auto& arg : argv) {
            out << " \"";
            for (char c : arg) {
              if (c == '"' || c == '\\') out << '\\' << c;
              else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
                out << buf;
              } else {
                out << c;
              }
            }
            out << '"';
          }
          out << "\n";
        }
        continue;
      }
    }
    out << " (no commands)\n";
  }
  spdlog::warn("rolled back {} entr{} written as leader; saved to {}", entries.size(),
               entries.size() == 1 ? "y" : "ies", path);
}

void Replicator::Failover(uint64_t target, int64_t timeout_ms,
                          std::function<void(bool, std::string)> done) {
  if (!core_->IsLeader()) return done(false, "ERR FAILOVER is not valid when server is a replica.");
  if (target == 0) {
    uint64_t best = 0, best_match = 0;
    for (const auto& f : followers()) {
      if (f.voter && (best == 0 || f.match_index > best_match)) {
        best = f.id;
        best_match = f.match_index;
      }
    }
    target = best;
  }
  if (target == 0) return done(false, "ERR FAILOVER requires connected replicas.");
  Status st = core_->TransferLeadership(target);
  if (!st.ok()) return done(false, "ERR FAILOVER failed: " + st.message());
  ScheduleReady();
  auto timer = std::make_shared<asio::steady_timer>(io_);
  int64_t deadline = server_.clock().MonotonicMs() + (timeout_ms > 0 ? timeout_ms : 10000);
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, timer, deadline, target, done, poll] {
    if (!core_->IsLeader() && core_->leader() != kNoLeader && core_->leader() != config_.node_id) {
      done(true, "");
      *poll = nullptr;
      return;
    }
    if (server_.clock().MonotonicMs() > deadline) {
      done(false, "ERR FAILOVER timed out before node " + std::to_string(target) + " took over");
      *poll = nullptr;
      return;
    }
    timer->expires_after(std::chrono::milliseconds(kTickMs));
    timer->async_wait([poll](const asio::error_code&) {
      if (*poll) (*poll)();
    });
  };
  (*poll)();
}

Result<replication::SnapshotMeta> Replicator::SnapshotMetaAt(uint64_t index) const {
  return core_->SnapshotMetaAt(index);
}

Status Replicator::OnSnapshotSaved(uint64_t index) { return core_->Compact(index); }

}  // namespace tandem::server
