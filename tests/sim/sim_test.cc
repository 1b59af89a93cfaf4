// Runs the simulation over many seeds (CI) and shows it can fail.
#include <gtest/gtest.h>

#include <cstdlib>

#include "sim/simulator.h"

namespace tandem::sim {
namespace {

uint64_t SeedsFromEnv(uint64_t fallback) {
  const char* env = std::getenv("TANDEM_SIM_SEEDS");
  return env ? std::strtoull(env, nullptr, 10) : fallback;
}

void RunSeeds(int nodes, uint64_t first, uint64_t count) {
  uint64_t committed = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.nodes = nodes;
    SimResult r = RunSimulation(options);
    ASSERT_TRUE(r.ok) << r.violation << "\n  replay: " << ReplayCommand(options);
    committed += r.committed;
  }
  EXPECT_GT(committed, count * 10) << "the simulation should make progress";
}

TEST(SimulationTest, ThreeNodeClusters) { RunSeeds(3, 1, SeedsFromEnv(3000)); }

TEST(SimulationTest, FiveNodeClusters) { RunSeeds(5, 100001, SeedsFromEnv(2000)); }

TEST(SimulationTest, SameSeedSameRun) {
  SimOptions options;
  options.seed = 77;
  options.nodes = 5;
  SimResult a = RunSimulation(options);
  SimResult b = RunSimulation(options);
  EXPECT_EQ(a.ticks, b.ticks);
  EXPECT_EQ(a.committed, b.committed);
  EXPECT_EQ(a.acknowledged, b.acknowledged);
  EXPECT_EQ(a.crashes, b.crashes);
  EXPECT_EQ(a.reads, b.reads);
}

TEST(SimulationTest, FindsTheBugWhenTheUpToDateVoteCheckIsOff) {
  int violations = 0;
  std::string example;
  for (uint64_t seed = 1; seed <= 200 && violations < 3; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.nodes = 3;
    options.unsafe_skip_vote_log_check = true;
    SimResult r = RunSimulation(options);
    if (!r.ok) {
      ++violations;
      example = r.violation;
    }
  }
  EXPECT_GE(violations, 3) << "the checker missed a broken vote rule";
  std::printf("example violation: %s\n", example.c_str());
}

}  // namespace
}  // namespace tandem::sim
