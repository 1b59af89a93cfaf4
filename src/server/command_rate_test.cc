#include "server/command_rate.h"

#include <gtest/gtest.h>

namespace tandem::server {
namespace {

TEST(CommandRateTest, NotBusyBeforeAWholeWindow) {
  CommandRate rate;
  rate.Observe(1000000, 5000);  // the first observation only starts a window
  EXPECT_FALSE(rate.BusyWithin(5000, 10000));
  rate.Observe(1000500, 5100);  // under kMinWindowMs: not judged yet
  EXPECT_FALSE(rate.BusyWithin(5100, 10000));
}

TEST(CommandRateTest, BusyAtOrAboveTheThreshold) {
  CommandRate rate;
  rate.Observe(0, 0);
  rate.Observe(250, 250);  // exactly 1000/s over 250 ms
  EXPECT_TRUE(rate.BusyWithin(250, 1));
  CommandRate slow;
  slow.Observe(0, 0);
  slow.Observe(249, 250);  // just under
  EXPECT_FALSE(slow.BusyWithin(250, 1000));
}

TEST(CommandRateTest, BusyEndsAfterTheGivenTime) {
  CommandRate rate;
  rate.Observe(0, 0);
  rate.Observe(5000, 1000);  // 5000/s, busy at 1000
  rate.Observe(5000, 1300);  // idle window
  rate.Observe(5000, 1600);
  EXPECT_TRUE(rate.BusyWithin(1600, 1000));
  EXPECT_TRUE(rate.BusyWithin(1999, 1000));
  EXPECT_FALSE(rate.BusyWithin(2000, 1000));
}

TEST(CommandRateTest, ACounterResetStartsAnewWithoutMarkingBusy) {
  CommandRate rate;
  rate.Observe(1000000, 0);
  rate.Observe(10, 1000);  // went down: no unsigned wrap to "busy"
  EXPECT_FALSE(rate.BusyWithin(1000, 10000));
  rate.Observe(20, 2000);  // 10 commands in a second
  EXPECT_FALSE(rate.BusyWithin(2000, 10000));
}

}  // namespace
}  // namespace tandem::server
