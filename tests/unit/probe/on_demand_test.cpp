// One round on demand: the call returns when the workers say they are done,
// not after a poll or its safety deadline.
#include "probe/on_demand.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "probe/worker.h"

namespace ping_exporter::probe {
namespace {

using std::chrono::seconds;

TEST(OnDemandTest, DoneLatchWakesTheWaiterWhenEveryWorkerCountedDown) {
  DoneLatch latch(2);
  EXPECT_FALSE(latch.WaitUntil(Clock::now()));
  std::thread other([&] { latch.CountDown(); });
  latch.CountDown();
  EXPECT_TRUE(latch.WaitUntil(Clock::now() + seconds(30)));
  other.join();
  latch.CountDown();  // extra counts are harmless
  EXPECT_TRUE(latch.WaitUntil(Clock::now()));
}

// Unresolved targets need no socket, so this runs unprivileged: their rounds
// are over as soon as they start, and the call must not wait out the grace.
TEST(OnDemandTest, ReturnsWhenTheRoundsAreOverNotAtTheDeadline) {
  std::ostringstream logs;
  Logger log(logs, LogLevel::kInfo, LogFormat::kLogfmt);
  std::vector<TargetPlan> plans(3);
  for (size_t i = 0; i < plans.size(); ++i) {
    metrics::TargetInfo info;
    info.name = "unresolved-" + std::to_string(i) + ".invalid";
    plans[i].entry = metrics::TargetEntry::Make(std::move(info), nullptr);
  }
  OnDemandOptions o;
  o.workers = 2;
  o.grace = seconds(20);
  auto start = Clock::now();
  auto snapshots = RunOneRound(plans, o, log);
  ASSERT_TRUE(snapshots) << snapshots.error();
  EXPECT_LT(Clock::now() - start, seconds(10));
  ASSERT_EQ(snapshots->size(), 3u);
  for (const metrics::TargetSnapshot& s : *snapshots) {
    EXPECT_TRUE(s.has_round);
    EXPECT_EQ(s.round_sent, 0u);
    EXPECT_EQ(s.send_errors[static_cast<size_t>(metrics::SendError::kResolve)], 1u);
  }
  // Nothing to probe at all is over at once too.
  snapshots = RunOneRound({}, o, log);
  ASSERT_TRUE(snapshots);
  EXPECT_TRUE(snapshots->empty());
  EXPECT_LT(Clock::now() - start, seconds(10));
}

}  // namespace
}  // namespace ping_exporter::probe
