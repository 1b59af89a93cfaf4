// Keyspace and command-path figures, in one process (no sockets, no log):
//  1. memory: loads N keys "key:<i>" -> "value:<i>" straight into a Keyspace
//     and prints the RSS growth per key and Keyspace::MemoryUsage() per key;
//  2. the request path a server runs for SET and GET (resp::RequestParser ->
//     StateMachine::Execute -> resp::Writer, plus EncodeRecord for writes):
//     ns per request and heap allocations per request (counted by the
//     operator new override below), for new keys, overwrites and reads.
//
// Usage: keyspace_bench [keys=1000000]
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "allocation_counter.h"
#include "kv/keyspace.h"
#include "kv/record.h"
#include "kv/state_machine.h"
#include "resp/parser.h"
#include "resp/writer.h"


namespace {

using namespace tandem;
using Clock = std::chrono::steady_clock;

long RssBytes() {
  std::ifstream f("/proc/self/statm");
  long pages_total = 0, pages_rss = 0;
  f >> pages_total >> pages_rss;
  return pages_rss * 4096;
}

// The same keys through the state machine (SET commands in kLeader mode,
// records encoded and dropped, as a server with its log on disk).
void MemoryThroughCommands(size_t n) {
  malloc_trim(0);
  long before = RssBytes();
  kv::StateMachine sm;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    std::string key = "key:" + std::to_string(i), value = "value:" + std::to_string(i);
    std::string_view args[] = {"SET", key, value};
    resp::Writer w(&out);
    auto result = sm.Execute(args, w, 1700000000000, kv::ExecMode::kLeader);
    std::string record = kv::EncodeRecord(result.record);
    out.clear();
  }
  long after = RssBytes();
  std::printf("memory: %zu keys key:N -> value:N through StateMachine::Execute: RSS +%.1f bytes/key\n",
              n, static_cast<double>(after - before) / n);
}

void Memory(size_t n) {
  malloc_trim(0);
  long before = RssBytes();
  {
    kv::Keyspace ks;
    for (size_t i = 0; i < n; ++i) {
      ks.Set("key:" + std::to_string(i), kv::Object::String("value:" + std::to_string(i)));
    }
    long after = RssBytes();
    std::printf("memory: %zu keys key:N -> value:N: RSS +%.1f bytes/key, MemoryUsage %.1f bytes/key\n",
                n, static_cast<double>(after - before) / n,
                static_cast<double>(ks.MemoryUsage()) / n);
  }
}

std::string Resp(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

// Runs `requests` (one RESP stream) through parser -> state machine ->
// writer in batches of `pipeline` commands, as the server's read loop does.
void RunPath(const char* name, kv::StateMachine& sm, const std::vector<std::string>& requests,
             size_t pipeline) {
  resp::RequestParser parser;
  std::vector<std::string_view> args;
  std::string out;
  std::string wal;
  int64_t now = 1700000000000;
  uint64_t allocs_before = tandem::bench::AllocationCount();
  auto t0 = Clock::now();
  size_t done = 0;
  for (size_t i = 0; i < requests.size(); i += pipeline) {
    for (size_t j = i; j < i + pipeline && j < requests.size(); ++j) parser.Append(requests[j]);
    while (parser.Next(&args) == resp::RequestParser::Outcome::kCommand) {
      resp::Writer w(&out);
      auto result = sm.Execute(args, w, now, kv::ExecMode::kLeader);
      if (!result.record.commands.empty()) {
        result.record.now_ms = now;
        wal = kv::EncodeRecord(result.record);
      }
      ++done;
    }
    parser.Compact();
    out.clear();
  }
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  uint64_t allocs = tandem::bench::AllocationCount() - allocs_before;
  std::printf("path: %-28s -P %-3zu %8.0f ns/request  %5.2f allocations/request\n", name, pipeline,
              ns / done, static_cast<double>(allocs) / done);
}

void Path(size_t n) {
  // redis-benchmark's key shape: "key:" + 12 digits (16 bytes), 3-byte value.
  std::vector<std::string> sets, gets;
  for (size_t i = 0; i < n; ++i) {
    char key[32];
    std::snprintf(key, sizeof(key), "key:%012zu", i);
    sets.push_back(Resp({"SET", key, "xxx"}));
    gets.push_back(Resp({"GET", key}));
  }
  for (size_t pipeline : {1, 16}) {
    kv::StateMachine sm;
    RunPath("SET new keys", sm, sets, pipeline);
    RunPath("SET existing keys", sm, sets, pipeline);
    RunPath("GET existing keys", sm, gets, pipeline);
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  Memory(n);
  MemoryThroughCommands(n);
  Path(n < 200000 ? n : 200000);
  return 0;
}
