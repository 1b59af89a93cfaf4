#include "tools/redis_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::tools {

RedisConnection::~RedisConnection() {
  if (fd_ >= 0) close(fd_);
}

Status RedisConnection::Connect(const std::string& host, int port, int timeout_ms,
                                const std::string& password) {
  timeout_ms_ = timeout_ms;
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Status::InvalidArgument("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    freeaddrinfo(res);
    return Status::FromErrno("socket", errno);
  }
  int rc = connect(fd_, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) return Status::FromErrno("connect", errno);
  pollfd p{fd_, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) return Status::Unavailable("connect timed out");
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Status::FromErrno("connect", err);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (!password.empty()) {
    auto r = Call({"AUTH", password});
    if (!r.ok()) return r.status();
    if (r->is_error()) return Status::InvalidArgument("AUTH failed: " + r->str);
  }
  return Status::Ok();
}

Result<resp::Reply> RedisConnection::Call(const std::vector<std::string>& args) {
  std::string out;
  resp::Writer w(&out);
  w.ArrayHeader(static_cast<int64_t>(args.size()));
  for (const auto& a : args) w.Bulk(a);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::FromErrno("send", errno);
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms_) != 1) return Status::Unavailable("send timed out");
  }
  for (;;) {
    resp::Reply reply;
    auto got = reader_.Next(&reply);
    if (!got.ok()) return got.status();
    if (*got) return reply;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms_) != 1) return Status::Unavailable("reply timed out");
    char buf[16384];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) return Status::Unavailable("connection closed");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::FromErrno("recv", errno);
    }
    reader_.Append(std::string_view(buf, static_cast<size_t>(n)));
  }
}

std::vector<std::pair<std::string, std::string>> ParseInfo(std::string_view info) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!info.empty()) {
    size_t eol = info.find('\n');
    std::string_view line = info.substr(0, eol);
    info = eol == std::string_view::npos ? std::string_view() : info.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return out;
}

}  // namespace tandem::tools
