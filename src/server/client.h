// Client: the state of one client connection that commands can see and
// change (CLIENT SETNAME, HELLO, AUTH, ...). Owned by its connection
// coroutine; the server keeps a non-owning registry for CLIENT LIST.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "resp/writer.h"

namespace tandem::server {

struct Client {
  Client(asio::any_io_executor ex, uint64_t id) : id(id), wake(ex) {}

  const uint64_t id;
  std::string name;
  std::string addr;   // peer "ip:port"
  std::string laddr;  // local "ip:port"
  int fd = -1;
  int64_t created_ms = 0;
  int64_t last_interaction_ms = 0;
  std::string last_command = "NULL";
  resp::Protocol protocol = resp::Protocol::kResp2;
  bool authenticated = false;
  bool close_after_reply = false;  // QUIT, protocol error, CLIENT KILL
  std::string lib_name, lib_ver;   // CLIENT SETINFO

  // Replies produced but not yet written. They may go out once the log is
  // committed up to wait_index (a write's own entry, or for a read the last
  // entry its result may depend on): nothing is shown before it is durable.
  std::string out;
  uint64_t wait_index = 0;
  // Set while the connection waits for the commit index; the server cancels
  // it to wake the connection.
  asio::steady_timer wake;
  // Ends of each reply in `out` and the index each waits for, so a failed
  // log write can turn exactly the affected replies into errors.
  struct PendingReply {
    size_t end;
    uint64_t index;       // the entry this reply depends on
    bool write;           // the reply of a write (else a read or an error)
    uint64_t read_round;  // cluster leader: the confirmation round it needs
  };
  // Writes also wait for write_wait_index to reach the durability level
  // (which for `all` can lag the commit index that reads wait for).
  uint64_t write_wait_index = 0;
  // Cluster leader: the leadership-confirmation round the replies wait for.
  uint64_t read_round = 0;
  // Set once the connection introduced itself as a peer (TANDEM.PEER).
  uint64_t peer_id = 0;
  std::vector<PendingReply> pending;
  size_t query_buffer_bytes = 0;  // for CLIENT LIST qbuf

  // Blocking commands (WAIT, FAILOVER). A handler that must wait sets
  // `block_check` instead of replying; the connection then runs no further
  // command until block_check returns true (having written the reply), or
  // until block_deadline_mono_ms (0 = none) passes, when block_timeout
  // writes the reply. The server re-evaluates block_check whenever the
  // replication state changes and on a timer.
  std::function<bool(resp::Writer&)> block_check;
  std::function<void(resp::Writer&)> block_timeout;
  int64_t block_deadline_mono_ms = 0;
  bool blocked() const { return static_cast<bool>(block_check); }
  // Index of this client's last write (WAIT counts replicas holding it).
  uint64_t last_write_index = 0;
  asio::ip::tcp::socket* socket = nullptr;  // for CLIENT KILL

  // Closes the connection from elsewhere (CLIENT KILL, shutdown).
  void Kill() {
    close_after_reply = true;
    killed = true;
    if (socket) {
      asio::error_code ec;
      socket->close(ec);
    }
    wake.cancel();
  }
  bool killed = false;
};

}  // namespace tandem::server
