// Replication core throughput: three cores wired in memory (no disk, no
// sockets; "durable" is reported at once), the leader proposing batches of
// client payloads. Prints entries committed per second and heap
// allocations per entry (counted by the operator new override below).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "replication/core.h"


namespace tandem::replication {
namespace {

// Three cores exchanging messages through in-memory queues.
class MemoryCluster {
 public:
  MemoryCluster() {
    for (NodeId id = 1; id <= 3; ++id) {
      randoms_[id] = std::make_unique<SeededRandom>(id);
      Config config;
      config.id = id;
      config.random = randoms_[id].get();
      config.max_inflight_batches = 64;
      PersistedState state;
      state.snapshot.membership.voters = {1, 2, 3};
      cores_[id] = std::move(Core::Create(config, state)).value();
    }
    while (!cores_[1]->IsLeader()) {
      cores_[1]->Tick();
      Pump();
    }
  }

  Core& leader() { return *cores_[1]; }

  // What the server does after saving a snapshot: forget applied entries.
  void CompactAll() {
    for (auto& [id, core] : cores_) (void)core->Compact(core->commit_index());
  }

  // Processes Ready of every node and delivers messages until quiet.
  void Pump() {
    bool busy = true;
    while (busy) {
      busy = false;
      for (auto& [id, core] : cores_) {
        while (core->HasReady()) {
          busy = true;
          Ready rd = core->TakeReady();
          for (Message& m : rd.messages) queue_.push_back(std::move(m));
          if (!rd.entries.empty())
            core->AdvanceDurable(rd.entries.back().index, rd.entries.back().term);
          benchmark::DoNotOptimize(rd.committed_entries.data());
        }
      }
      for (size_t i = 0; i < queue_.size(); ++i) {
        busy = true;
        (void)cores_[queue_[i].to]->Step(std::move(queue_[i]));
      }
      queue_.clear();
    }
  }

 private:
  std::map<NodeId, std::unique_ptr<SeededRandom>> randoms_;
  std::map<NodeId, std::unique_ptr<Core>> cores_;
  std::vector<Message> queue_;
};

void BM_CommitBatches(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::string value(64, 'v');
  MemoryCluster cluster;
  uint64_t entries = 0;
  uint64_t since_compaction = 0;
  const uint64_t allocations_before = tandem::bench::AllocationCount();
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      // A fresh payload per entry, as the server would build from a command.
      auto r = cluster.leader().Propose(std::make_shared<const std::string>(value),
                                        Durability::kMajority);
      benchmark::DoNotOptimize(r);
    }
    cluster.Pump();
    entries += batch;
    since_compaction += batch;
    if (since_compaction >= 65536) {
      cluster.CompactAll();
      since_compaction = 0;
    }
  }
  const uint64_t allocations = tandem::bench::AllocationCount() - allocations_before;
  if (cluster.leader().commit_index() + 1 < entries) state.SkipWithError("entries not committed");
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(entries), benchmark::Counter::kIsRate);
  state.counters["allocs/entry"] = static_cast<double>(allocations) / static_cast<double>(entries);
}
BENCHMARK(BM_CommitBatches)->Arg(1)->Arg(16)->Arg(256)->Arg(4096);

}  // namespace
}  // namespace tandem::replication

BENCHMARK_MAIN();
