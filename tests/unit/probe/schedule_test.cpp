#include "probe/schedule.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ping_exporter::probe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ScheduleTest, PhaseIsStableAndInsideInterval) {
  Duration interval = seconds(1);
  EXPECT_EQ(Phase("example-host", interval), Phase("example-host", interval));
  for (int i = 0; i < 1000; ++i) {
    Duration p = Phase("h" + std::to_string(i), interval);
    EXPECT_GE(p.count(), 0);
    EXPECT_LT(p, interval);
  }
  // Known value: the hash must not change between releases (phases survive upgrades).
  EXPECT_EQ(StableHash(""), StableHash(std::string()));
  EXPECT_NE(StableHash("127.0.0.1"), StableHash("127.0.0.2"));
}

TEST(ScheduleTest, TenThousandTargetsSpreadEvenly) {
  Duration interval = seconds(1);
  std::vector<int> buckets(10);
  for (int i = 0; i < 10000; ++i) {
    Duration p =
        Phase("127.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), interval);
    ++buckets[static_cast<size_t>(p.count() * 10 / interval.count())];
  }
  for (int b : buckets) {
    EXPECT_GT(b, 850);  // 1000 expected per 100 ms slice
    EXPECT_LT(b, 1150);
  }
}

TEST(ScheduleTest, FirstSlotAndAdvance) {
  TimePoint epoch{};
  Duration interval = seconds(1);
  Duration phase = milliseconds(300);
  EXPECT_EQ(FirstSlot(epoch, phase, interval, epoch), epoch + phase);
  EXPECT_EQ(FirstSlot(epoch, phase, interval, epoch + milliseconds(301)),
            epoch + milliseconds(1300));
  NextSlot n = Advance(epoch + phase, interval, epoch + milliseconds(310));
  EXPECT_EQ(n.due, epoch + milliseconds(1300));
  EXPECT_EQ(n.skipped, 0u);
  // 3.5 intervals late: the missed slots are counted, not queued.
  n = Advance(epoch + phase, interval, epoch + milliseconds(3800));
  EXPECT_EQ(n.due, epoch + milliseconds(4300));
  EXPECT_EQ(n.skipped, 3u);
}

TEST(ScheduleTest, TimerQueuePopsInOrder) {
  TimerQueue q;
  q.Reserve(8);
  TimePoint t0{};
  q.Push(t0 + milliseconds(5), 1);
  q.Push(t0 + milliseconds(1), 2);
  q.Push(t0 + milliseconds(3), 3);
  q.Push(t0 + milliseconds(1), 4);
  std::vector<uint32_t> order;
  TimePoint last = t0;
  while (!q.empty()) {
    auto e = q.Pop();
    EXPECT_GE(e.when, last);
    last = e.when;
    order.push_back(e.slot);
  }
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.back(), 1u);
  EXPECT_EQ(order[2], 3u);
}

}  // namespace
}  // namespace ping_exporter::probe
