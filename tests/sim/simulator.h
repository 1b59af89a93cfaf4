// Simulator: runs 3..N replication cores in one process on a simulated
// network and clock, injecting message loss, delay, reordering,
// duplication, partitions (symmetric, asymmetric, one-way), crashes that
// lose everything not yet durable, restarts, leadership transfers and
// membership changes, while InvariantChecker checks safety after every
// step. Then it heals every fault and checks liveness: a leader appears
// within a bounded number of ticks and every committed entry reaches every
// live node. A seed reproduces a run exactly.
#pragma once

#include <cstdint>
#include <string>

namespace tandem::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;
  int steps = 600;       // ticks of the faulty phase
  int heal_ticks = 400;  // bound for the liveness phase
  // TEST ONLY: disable the up-to-date check on votes (must be caught).
  bool unsafe_skip_vote_log_check = false;
  bool verbose = false;
};

struct SimResult {
  bool ok = true;
  std::string violation;  // the first violated property, with its tick
  uint64_t ticks = 0;
  uint64_t committed = 0;     // entries in the committed history
  uint64_t acknowledged = 0;  // proposals completed as majority/all
  uint64_t elections = 0;     // distinct leader terms
  uint64_t crashes = 0;
  uint64_t snapshots_sent = 0;
  uint64_t rolled_back = 0;
  uint64_t reads = 0;
  uint64_t membership_changes = 0;
};

SimResult RunSimulation(const SimOptions& options);

// The command line that replays a run of `options`.
std::string ReplayCommand(const SimOptions& options);

}  // namespace tandem::sim
