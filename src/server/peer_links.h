// PeerLinks: this node's outbound connections to the other members. Each
// link dials the address --cluster gives for that member (it may be a
// proxy: peers are identified by node id, never by address), introduces
// itself with a handshake, then streams frames. Messages to a peer that is
// not connected are dropped (replication retransmits); a slow peer never
// blocks the loop: its queue is bounded and dropped when full.
//
// Wire (docs/replication.md, "Peer links"): RESP commands on the client
// port. Handshake: TANDEM.PEER <cluster-id> <from-id> <to-id> [<secret>],
// answered +OK with the answering build's capabilities after it
// (kPeerCapabilityCatchUpHint) or an error (then the link is closed and
// retried). After it:
// TANDEM.RAFT <encoded message> and TANDEM.SNAP <snapshot chunk>, no replies.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "server/config.h"

namespace tandem::server {

// A TANDEM.PEER answer "+OK <capabilities>" naming this one: the node takes
// the peer_catching_up flag of replication messages (older builds reject it).
inline constexpr char kPeerCapabilityCatchUpHint[] = "catch-up-hint";

class PeerLinks {
 public:
  PeerLinks(asio::io_context& io, const Config& config);
  ~PeerLinks();

  void Start();
  void Stop();

  // Queues a TANDEM.RAFT frame with `message` for peer `to`. The message is
  // taken, not copied: a large one is written from its own buffer (the
  // frame's header and trailer go around it with writev).
  void SendMessage(uint64_t to, std::string message);
  // Queues a TANDEM.SNAP frame with a snapshot chunk for peer `to` (taken
  // like a message). Returns false when the peer is not connected or its
  // queue is full.
  bool SendSnapshotChunk(uint64_t to, std::string chunk);
  bool connected(uint64_t id) const;
  // The peer's answer to this link's handshake named
  // kPeerCapabilityCatchUpHint (false while not connected).
  bool takes_catch_up_hint(uint64_t id) const;
  // Peer `id` has just dialed this node, so it is up: a link to it waiting
  // out its reconnect backoff (up to 1 s after a restart) dials now.
  void RedialIfWaiting(uint64_t id);
  // How many times the link to `id` has connected (a changed count means
  // the peer may have restarted since).
  uint64_t connections(uint64_t id) const;
  // Bytes queued for `id` and not yet written.
  size_t queued_bytes(uint64_t id) const;

 private:
  struct Link;
  class SendQueue;
  asio::awaitable<void> Run(std::shared_ptr<Link> link);
  bool Enqueue(uint64_t to, std::string_view command, std::string payload, bool droppable);

  asio::io_context& io_;
  const Config& config_;
  std::map<uint64_t, std::shared_ptr<Link>> links_;
  bool stopped_ = false;
};

}  // namespace tandem::server
