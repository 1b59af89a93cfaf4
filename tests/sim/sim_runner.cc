// sim_runner: runs the replication simulation for one seed (replay) or a
// range of seeds (soak) and prints any violation with its replay command.
//   build/sim_runner --seed 42 --nodes 5 --steps 600
//   build/sim_runner --seeds 100000 --first-seed 1 --nodes 3
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "sim/simulator.h"

int main(int argc, char** argv) {
  CLI::App app{"Tandem replication simulation"};
  tandem::sim::SimOptions options;
  uint64_t seeds = 0;
  uint64_t first_seed = 1;
  app.add_option("--seed", options.seed, "run (replay) exactly this seed");
  app.add_option("--seeds", seeds, "run this many seeds starting at --first-seed (soak)");
  app.add_option("--first-seed", first_seed, "first seed of a soak");
  app.add_option("--nodes", options.nodes, "cluster size (3..9)")->check(CLI::Range(3, 9));
  app.add_option("--steps", options.steps, "ticks of the faulty phase");
  app.add_option("--heal-ticks", options.heal_ticks, "liveness bound after healing");
  app.add_flag("--unsafe-skip-vote-log-check", options.unsafe_skip_vote_log_check,
               "TEST ONLY: break the vote rule to see the checker catch it");
  CLI11_PARSE(app, argc, argv);

  const uint64_t begin = seeds == 0 ? options.seed : first_seed;
  const uint64_t count = seeds == 0 ? 1 : seeds;
  const auto start = std::chrono::steady_clock::now();
  uint64_t failures = 0, committed = 0, elections = 0;
  for (uint64_t seed = begin; seed < begin + count; ++seed) {
    options.seed = seed;
    tandem::sim::SimResult r = tandem::sim::RunSimulation(options);
    committed += r.committed;
    if (!r.ok) {
      ++failures;
      std::printf("seed %llu FAILED: %s\n  replay: %s\n", static_cast<unsigned long long>(seed),
                  r.violation.c_str(), tandem::sim::ReplayCommand(options).c_str());
    } else if (count == 1) {
      std::printf(
          "seed %llu ok: %llu ticks, %llu committed, %llu acknowledged, %llu crashes, %llu "
          "snapshots sent, %llu rolled back, %llu reads, %llu membership changes\n",
          static_cast<unsigned long long>(seed), static_cast<unsigned long long>(r.ticks),
          static_cast<unsigned long long>(r.committed),
          static_cast<unsigned long long>(r.acknowledged),
          static_cast<unsigned long long>(r.crashes),
          static_cast<unsigned long long>(r.snapshots_sent),
          static_cast<unsigned long long>(r.rolled_back), static_cast<unsigned long long>(r.reads),
          static_cast<unsigned long long>(r.membership_changes));
    }
    (void)elections;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu seeds, %llu failed, %llu entries committed, %.2f s (%.1f ms/seed)\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(failures),
              static_cast<unsigned long long>(committed), secs, 1000 * secs / count);
  return failures == 0 ? 0 : 1;
}
