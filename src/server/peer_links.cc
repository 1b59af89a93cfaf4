#include "server/peer_links.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <span>
#include <utility>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "resp/reply_parser.h"
#include "resp/writer.h"

namespace tandem::server {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxQueuedBytes = 64u << 20;
// Payloads from this size on are written from their own buffer; smaller
// frames are copied together into one piece.
constexpr size_t kOwnPieceBytes = 16u << 10;
// Buffers handed to one writev.
constexpr size_t kMaxWriteBuffers = 64;

}  // namespace

// Encoded frames not yet written, in order, as pieces: small frames (and
// the headers and trailers of large ones) are copied into a shared piece, a
// large payload is kept in the string it came in (no copy); writes gather
// the pieces (writev).
class PeerLinks::SendQueue {
 public:
  void Add(std::string_view command, std::string payload) {
    std::string& piece = OpenPiece();
    size_t before = piece.size();
    resp::Writer w(&piece);
    w.ArrayHeader(2);
    w.Bulk(command);
    if (payload.size() < kOwnPieceBytes) {
      w.Bulk(payload);
      bytes_ += piece.size() - before;
      return;
    }
    w.BulkHeader(payload.size());
    bytes_ += piece.size() - before + payload.size() + 2;
    pieces_.push_back(std::move(payload));
    pieces_.emplace_back("\r\n");
    last_open_ = true;
  }
  bool empty() const { return bytes_ == 0; }
  size_t bytes() const { return bytes_; }
  // The first unwritten bytes, as at most `max` buffers; returns how many.
  size_t Buffers(asio::const_buffer* out, size_t max) const {
    size_t n = 0;
    for (size_t i = 0; i < pieces_.size() && n < max; ++i) {
      size_t skip = i == 0 ? head_ : 0;
      if (pieces_[i].size() > skip) {
        out[n++] = asio::buffer(pieces_[i].data() + skip, pieces_[i].size() - skip);
      }
    }
    return n;
  }
  // The first `n` unwritten bytes were written.
  void Consume(size_t n) {
    bytes_ -= n;
    while (!pieces_.empty() && n >= pieces_.front().size() - head_) {
      n -= pieces_.front().size() - head_;
      PopFront();
    }
    head_ += n;
  }
  // Moves every queued byte to *into (which must be empty).
  void MoveTo(SendQueue* into) {
    std::swap(pieces_, into->pieces_);
    into->head_ = std::exchange(head_, 0);
    into->bytes_ = std::exchange(bytes_, 0);
    into->last_open_ = std::exchange(last_open_, false);
  }
  void Clear() {
    pieces_.clear();
    head_ = bytes_ = 0;
    last_open_ = false;
  }

 private:
  std::string& OpenPiece() {
    if (!last_open_) {
      pieces_.emplace_back();
      last_open_ = true;
    }
    return pieces_.back();
  }
  void PopFront() {
    pieces_.pop_front();
    head_ = 0;
    if (pieces_.empty()) last_open_ = false;
  }

  std::deque<std::string> pieces_;
  size_t head_ = 0;         // bytes of pieces_.front() already written
  size_t bytes_ = 0;        // unwritten bytes
  bool last_open_ = false;  // pieces_.back() takes more small frames
};

namespace {

// Whether a handshake's +OK answer lists `capability` (whole words after
// the OK).
bool AnswerNames(const resp::Reply& reply, std::string_view capability) {
  if (reply.type != resp::ReplyType::kSimpleString) return false;
  std::string_view rest = reply.str;
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view word = rest.substr(0, space);
    if (word == capability) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

struct PeerLinks::Link {
  Link(asio::io_context& io, uint64_t id, HostPort address)
      : id(id), address(std::move(address)), wake(io), socket(io) {}
  uint64_t id;
  HostPort address;
  SendQueue queue;  // encoded frames not yet written
  asio::steady_timer wake;
  asio::ip::tcp::socket socket;
  bool connected = false;
  uint64_t connections = 0;
  bool stopped = false;
  bool writing = false;  // the link's coroutine has bytes in an async_write
  bool takes_catch_up_hint = false;  // from the handshake's answer
  bool waiting_to_redial = false;  // in the backoff after a failed dial or handshake
};

PeerLinks::PeerLinks(asio::io_context& io, const Config& config) : io_(io), config_(config) {
  for (const auto& [id, address] : config.cluster) {
    if (id != config.node_id) links_[id] = std::make_shared<Link>(io, id, address);
  }
}

PeerLinks::~PeerLinks() { Stop(); }

void PeerLinks::Start() {
  for (auto& [id, link] : links_) asio::co_spawn(io_, Run(link), asio::detached);
}

void PeerLinks::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [id, link] : links_) {
    link->stopped = true;
    asio::error_code ec;
    link->socket.close(ec);
    link->wake.cancel();
  }
}

bool PeerLinks::Enqueue(uint64_t to, std::string_view command, std::string payload,
                        bool droppable) {
  auto it = links_.find(to);
  if (it == links_.end()) return false;
  Link& link = *it->second;
  if (!link.connected) return false;
  if (droppable && link.queue.bytes() > kMaxQueuedBytes) return false;
  bool was_empty = link.queue.empty();
  link.queue.Add(command, std::move(payload));
  if (!link.writing) {
    // Write now rather than on the next loop turn: the caller is often about
    // to fsync, and the peer's round trip should overlap that fsync. The
    // socket is non-blocking; what the kernel does not take stays queued.
    asio::const_buffer buffers[kMaxWriteBuffers];
    size_t count = link.queue.Buffers(buffers, kMaxWriteBuffers);
    asio::error_code ec;
    size_t n = link.socket.write_some(std::span(buffers, count), ec);
    link.queue.Consume(n);
    // An error is left for the link's coroutine to find on its next write.
  }
  if (was_empty && !link.queue.empty()) link.wake.cancel();
  return true;
}

void PeerLinks::SendMessage(uint64_t to, std::string message) {
  Enqueue(to, "TANDEM.RAFT", std::move(message), /*droppable=*/true);
}

bool PeerLinks::SendSnapshotChunk(uint64_t to, std::string chunk) {
  return Enqueue(to, "TANDEM.SNAP", std::move(chunk), /*droppable=*/true);
}

bool PeerLinks::connected(uint64_t id) const {
  auto it = links_.find(id);
  return it != links_.end() && it->second->connected;
}

uint64_t PeerLinks::connections(uint64_t id) const {
  auto it = links_.find(id);
  return it == links_.end() ? 0 : it->second->connections;
}

bool PeerLinks::takes_catch_up_hint(uint64_t id) const {
  auto it = links_.find(id);
  return it != links_.end() && it->second->connected && it->second->takes_catch_up_hint;
}

void PeerLinks::RedialIfWaiting(uint64_t id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  Link& link = *it->second;
  if (link.waiting_to_redial) link.wake.cancel();
}

size_t PeerLinks::queued_bytes(uint64_t id) const {
  auto it = links_.find(id);
  return it == links_.end() ? 0 : it->second->queue.bytes();
}

asio::awaitable<void> PeerLinks::Run(std::shared_ptr<Link> link) {
  auto backoff = std::chrono::milliseconds(50);
  asio::ip::tcp::resolver resolver(io_);
  while (!link->stopped) {
    auto [rec, endpoints] = co_await resolver.async_resolve(
        link->address.host, std::to_string(link->address.port), kUseTuple);
    asio::error_code ec = rec;
    if (!ec) {
      link->socket = asio::ip::tcp::socket(io_);
      auto [cec, ep] = co_await asio::async_connect(link->socket, endpoints, kUseTuple);
      ec = cec;
    }
    std::string handshake;
    if (!ec) {
      resp::Writer w(&handshake);
      bool with_secret = !config_.requirepass.empty();
      w.ArrayHeader(with_secret ? 5 : 4);
      w.Bulk("TANDEM.PEER");
      w.Bulk(config_.cluster_id);
      w.Bulk(std::to_string(config_.node_id));
      w.Bulk(std::to_string(link->id));
      if (with_secret) w.Bulk(config_.requirepass);
      link->socket.set_option(asio::ip::tcp::no_delay(true), ec);
      // A peer that stops taking data without closing (a hung proxy) must
      // not hold the link forever: give up after a few election timeouts.
      unsigned user_timeout_ms = static_cast<unsigned>(config_.election_timeout_ms) * 4;
      setsockopt(link->socket.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                 sizeof(user_timeout_ms));
      link->socket.set_option(asio::socket_base::keep_alive(true), ec);
      auto [wec, n] = co_await asio::async_write(link->socket, asio::buffer(handshake), kUseTuple);
      ec = wec;
    }
    if (!ec) {
      // Read the one-line answer to the handshake.
      resp::ReplyReader reader;
      char buf[512];
      resp::Reply reply;
      bool done = false;
      while (!done && !ec) {
        auto [rec2, n] = co_await link->socket.async_read_some(asio::buffer(buf), kUseTuple);
        ec = rec2;
        if (ec) break;
        reader.Append(std::string_view(buf, n));
        auto got = reader.Next(&reply);
        if (!got.ok()) ec = asio::error::invalid_argument;
        else done = *got;
      }
      if (!ec && reply.is_error()) {
        spdlog::warn("peer {} at {} refused the handshake: {}", link->id,
                     link->address.ToString(), reply.str);
        ec = asio::error::connection_refused;
      }
      link->takes_catch_up_hint = !ec && AnswerNames(reply, kPeerCapabilityCatchUpHint);
    }
    if (ec) {
      if (link->stopped) break;
      spdlog::debug("peer {} at {}: {}", link->id, link->address.ToString(), ec.message());
      asio::error_code ignored;
      link->socket.close(ignored);
      link->wake.expires_after(backoff);
      link->waiting_to_redial = true;
      co_await link->wake.async_wait(kUseTuple);
      link->waiting_to_redial = false;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      continue;
    }
    spdlog::info("connected to peer {} at {}", link->id, link->address.ToString());
    link->socket.non_blocking(true, ec);
    link->connected = true;
    ++link->connections;
    backoff = std::chrono::milliseconds(50);
    SendQueue sending;
    asio::const_buffer buffers[kMaxWriteBuffers];
    asio::error_code wec;
    while (!link->stopped && !wec) {
      if (link->queue.empty()) {
        link->wake.expires_at(asio::steady_timer::time_point::max());
        co_await link->wake.async_wait(kUseTuple);
        continue;
      }
      link->queue.MoveTo(&sending);
      link->writing = true;
      while (!sending.empty()) {
        size_t count = sending.Buffers(buffers, kMaxWriteBuffers);
        auto [ec, n] =
            co_await link->socket.async_write_some(std::span(buffers, count), kUseTuple);
        if (ec) {
          wec = ec;
          break;
        }
        sending.Consume(n);
      }
      link->writing = false;
      sending.Clear();
      if (wec) {
        spdlog::info("lost connection to peer {} at {}: {}", link->id, link->address.ToString(),
                     wec.message());
      }
    }
    link->connected = false;
    link->queue.Clear();
    asio::error_code ignored;
    link->socket.close(ignored);
  }
}

}  // namespace tandem::server
