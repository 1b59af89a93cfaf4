#include "tools/cluster_up.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

namespace tandem::tools {
namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

struct Node {
  int id = 0;
  pid_t pid = -1;
  int out_fd = -1;
  std::string partial;
  bool running = false;
};

void EmitLines(Node& node, const char* data, size_t n) {
  node.partial.append(data, n);
  size_t pos;
  while ((pos = node.partial.find('\n')) != std::string::npos) {
    std::printf("[node %d] %.*s\n", node.id, static_cast<int>(pos), node.partial.data());
    node.partial.erase(0, pos + 1);
  }
  std::fflush(stdout);
}

pid_t Spawn(const std::vector<std::string>& args, int* out_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

}  // namespace

int RunClusterUp(const ClusterUpOptions& o) {
  if (o.nodes < 1 || o.nodes > 9) {
    std::fprintf(stderr, "tandemctl: --nodes must be between 1 and 9\n");
    return 2;
  }
  if (access(o.tandemd.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "tandemctl: cannot run tandemd at '%s' (build it first)\n",
                 o.tandemd.c_str());
    return 2;
  }
  std::string cluster;
  for (int i = 1; i <= o.nodes; ++i) {
    if (!cluster.empty()) cluster += ",";
    cluster += std::to_string(i) + "=127.0.0.1:" + std::to_string(o.base_port + i - 1);
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<Node> nodes;
  for (int i = 1; i <= o.nodes; ++i) {
    std::string data_dir = o.dir + "/node-" + std::to_string(i);
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    std::vector<std::string> args = {o.tandemd,
                                     "--node-id", std::to_string(i),
                                     "--listen", "127.0.0.1:" + std::to_string(o.base_port + i - 1),
                                     "--data-dir", data_dir};
    if (o.nodes > 1) {
      args.push_back("--cluster");
      args.push_back(cluster);
    }
    args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
    Node node;
    node.id = i;
    node.pid = Spawn(args, &node.out_fd);
    if (node.pid < 0) {
      std::fprintf(stderr, "tandemctl: cannot start node %d: %s\n", i, std::strerror(errno));
      g_stop = 1;
      break;
    }
    node.running = true;
    std::printf("[tandemctl] node %d: pid %d, 127.0.0.1:%d, data %s\n", i, node.pid,
                o.base_port + i - 1, data_dir.c_str());
    nodes.push_back(std::move(node));
  }
  std::printf("[tandemctl] %d node(s) up; connect with: redis-cli -p %d ; Ctrl-C stops them\n",
              o.nodes, o.base_port);
  std::fflush(stdout);

  auto any_running = [&] {
    for (auto& n : nodes) {
      if (n.running) return true;
    }
    return false;
  };
  bool terminating = false;
  auto kill_deadline = std::chrono::steady_clock::time_point::max();
  while (any_running()) {
    if (g_stop && !terminating) {
      terminating = true;
      std::printf("[tandemctl] stopping %zu node(s)\n", nodes.size());
      for (auto& n : nodes) {
        if (n.running) kill(n.pid, SIGTERM);
      }
      kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    }
    if (terminating && std::chrono::steady_clock::now() > kill_deadline) {
      for (auto& n : nodes) {
        if (n.running) kill(n.pid, SIGKILL);
      }
    }
    std::vector<pollfd> fds;
    for (auto& n : nodes) {
      if (n.out_fd >= 0) fds.push_back({n.out_fd, POLLIN, 0});
    }
    if (!fds.empty()) poll(fds.data(), fds.size(), 200);
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (auto& n : nodes) {
      if (n.out_fd < 0) continue;
      char buf[8192];
      for (const auto& p : fds) {
        if (p.fd != n.out_fd || !(p.revents & (POLLIN | POLLHUP))) continue;
        ssize_t got = read(n.out_fd, buf, sizeof(buf));
        if (got > 0) {
          EmitLines(n, buf, static_cast<size_t>(got));
        } else if (got == 0) {
          close(n.out_fd);
          n.out_fd = -1;
        }
      }
    }
    for (auto& n : nodes) {
      int status;
      if (n.running && waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.running = false;
        std::printf("[tandemctl] node %d exited (%s %d)\n", n.id,
                    WIFEXITED(status) ? "status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace tandem::tools
