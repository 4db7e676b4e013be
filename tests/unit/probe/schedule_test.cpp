#include "probe/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace ping_exporter::probe {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ScheduleTest, PhaseIsStableAndInsideInterval) {
  Duration interval = seconds(1);
  for (int i = 0; i < 1000; ++i) {
    // Appended, not `"h" + std::to_string(i)`: GCC 12 at -O3 reports a bogus -Wrestrict there.
    Duration p = Phase(std::string("h").append(std::to_string(i)), interval);
    EXPECT_GE(p.count(), 0);
    EXPECT_LT(p, interval);
  }
  // Known values: the hash must not change between releases (phases survive upgrades).
  EXPECT_EQ(StableHash(""), 0xecba3df2c3383c52ull);
  EXPECT_EQ(StableHash("127.0.0.1"), 0xda18495f1e5946e1ull);
  EXPECT_EQ(Phase("127.0.0.1", interval), Duration(589233889));
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

std::vector<uint32_t> PopDue(TimerWheel& w, TimePoint now) {
  std::vector<uint32_t> out;
  w.PopDue(now, &out);
  return out;
}

TEST(ScheduleTest, WheelFiresAtTheTickAtOrAfterTheEvent) {
  TimePoint t0{};
  TimerWheel w(t0, milliseconds(1), 64);
  w.Push(t0 + milliseconds(5), 1);
  w.Push(t0 + microseconds(1500), 2);  // fires at the 2 ms tick, never early
  w.Push(t0 + milliseconds(3), 3);
  w.Push(t0 + milliseconds(2), 4);
  EXPECT_EQ(w.size(), 4u);
  EXPECT_EQ(w.NextDue(), t0 + milliseconds(2));
  EXPECT_TRUE(PopDue(w, t0 + microseconds(1999)).empty());
  EXPECT_EQ(PopDue(w, t0 + milliseconds(2)), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(w.NextDue(), t0 + milliseconds(3));
  // A late wake-up hands out every tick it passed, earlier ticks first.
  EXPECT_EQ(PopDue(w, t0 + milliseconds(9)), (std::vector<uint32_t>{3, 1}));
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.NextDue(), std::nullopt);
}

TEST(ScheduleTest, WheelEventsInThePastFireAtTheNextTick) {
  TimePoint t0{};
  TimerWheel w(t0, milliseconds(1), 64);
  EXPECT_TRUE(PopDue(w, t0 + milliseconds(10)).empty());
  w.Push(t0 + milliseconds(4), 7);  // behind the cursor: due at the next tick
  EXPECT_EQ(w.NextDue(), t0 + milliseconds(11));
  EXPECT_TRUE(PopDue(w, t0 + milliseconds(10)).empty());
  EXPECT_EQ(PopDue(w, t0 + milliseconds(11)), (std::vector<uint32_t>{7}));
}

TEST(ScheduleTest, WheelKeepsFarEventsBeyondTheRing) {
  TimePoint t0{};
  TimerWheel w(t0, milliseconds(1), 64);  // the ring spans 64 ms
  w.Push(t0 + seconds(60), 1);
  w.Push(t0 + milliseconds(100), 2);
  w.Push(t0 + milliseconds(30), 3);
  EXPECT_EQ(w.NextDue(), t0 + milliseconds(30));
  EXPECT_EQ(PopDue(w, t0 + milliseconds(50)), (std::vector<uint32_t>{3}));
  // 100 ms came inside the window when the cursor moved: it is in the ring now.
  EXPECT_EQ(w.NextDue(), t0 + milliseconds(100));
  EXPECT_TRUE(PopDue(w, t0 + milliseconds(99)).empty());
  EXPECT_EQ(PopDue(w, t0 + milliseconds(100)), (std::vector<uint32_t>{2}));
  EXPECT_EQ(w.NextDue(), t0 + seconds(60));
  // A wake-up long after: the far event is handed out directly.
  EXPECT_EQ(PopDue(w, t0 + seconds(61)), (std::vector<uint32_t>{1}));
  EXPECT_TRUE(w.empty());
}

TEST(ScheduleTest, WheelMatchesASortedReferenceOverManyEvents) {
  TimePoint t0{};
  TimerWheel w(t0, milliseconds(1), 256);
  std::multimap<int64_t, uint32_t> reference;  // due tick -> slot
  uint64_t x = 12345;
  TimePoint now = t0;
  std::vector<uint32_t> got;
  for (uint32_t i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Mostly near (inside the ring), some far (the heap), some sub-tick times.
    Duration ahead = microseconds(static_cast<int64_t>(x % (i % 10 == 0 ? 2'000'000 : 200'000)));
    TimePoint when = now + ahead;
    int64_t tick = (when - t0 + milliseconds(1) - Duration(1)) / milliseconds(1);
    reference.emplace(tick, i);
    w.Push(when, i);
    if (i % 7 == 0) {
      now += microseconds(static_cast<int64_t>(x % 3000));
      got.clear();
      w.PopDue(now, &got);
      int64_t last = (now - t0) / milliseconds(1);
      std::vector<uint32_t> want;
      while (!reference.empty() && reference.begin()->first <= last) {
        want.push_back(reference.begin()->second);
        reference.erase(reference.begin());
      }
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
      ASSERT_EQ(got, want) << "at step " << i;
      ASSERT_EQ(w.size(), reference.size());
      if (!reference.empty()) {
        ASSERT_EQ(w.NextDue(), t0 + milliseconds(reference.begin()->first));
      }
    }
  }
}

TEST(ScheduleTest, PhasesAlignToAGridThatDividesTheInterval) {
  EXPECT_EQ(PhaseGrid(50'000), milliseconds(1));
  EXPECT_EQ(PhaseGrid(5'000), milliseconds(2));
  EXPECT_EQ(PhaseGrid(2'000), milliseconds(5));
  EXPECT_EQ(PhaseGrid(500), milliseconds(10));
  EXPECT_EQ(PhaseGrid(0), milliseconds(10));
  EXPECT_EQ(AlignPhase(microseconds(123'456), milliseconds(2), seconds(1)), milliseconds(122));
  // 1.5 ms does not divide into 5 ms steps: aligning would drift, so leave it.
  EXPECT_EQ(AlignPhase(microseconds(700), milliseconds(5), microseconds(1500)), microseconds(700));
  EXPECT_EQ(AlignPhase(microseconds(700), Duration::zero(), seconds(1)), microseconds(700));
}

}  // namespace
}  // namespace ping_exporter::probe
