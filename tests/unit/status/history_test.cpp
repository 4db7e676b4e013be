#include "status/history.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>

namespace ping_exporter::status {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// "t0", "t1", ... Built by appending: `"t" + std::to_string(i)` makes GCC 12 at
// -O3 report a -Wrestrict overlap inside char_traits::copy that cannot happen.
std::vector<std::string> Numbered(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(std::string("t").append(std::to_string(i)));
  return names;
}

// A store with the named targets, each with fresh stats.
struct Fixture {
  metrics::ResultStore store;
  std::vector<metrics::TargetEntry> entries;

  explicit Fixture(std::vector<std::string> names) {
    for (auto& n : names) {
      metrics::TargetInfo info;
      info.name = n;
      info.address = "127.0.0.1";
      entries.push_back(metrics::TargetEntry::Make(std::move(info), nullptr));
    }
    store.Replace(std::make_shared<const metrics::ResultStore::TargetList>(entries));
  }

  // Publishes a round of `sent` requests with the given reply RTTs.
  void Round(size_t i, uint32_t sent, std::vector<double> rtts, double when) {
    metrics::PublishedRound r;
    r.sent = sent;
    r.received = static_cast<uint32_t>(rtts.size());
    double sum = 0;
    for (double v : rtts) sum += v;
    r.rtt_avg = rtts.empty() ? 0 : sum / rtts.size();
    r.completed_at = when;
    r.reply_ttl = rtts.empty() ? -1 : 64;
    r.rtts = rtts;
    entries[i].stats->Publish(r);
  }
};

TEST(HistoryTest, StaysWithinTheMemoryBudget) {
  // 120 points of uint16 RTT + uint8 loss, a few counters, its slot in the by-name index.
  EXPECT_LE(History::kBytesPerTarget, 400u);
  EXPECT_EQ(History::kPoints, 120u);
}

TEST(HistoryTest, UnknownTargetHasNoSeries) {
  History h(seconds(30));
  EXPECT_FALSE(h.Get("nope").has_value());
  EXPECT_EQ(h.span(), seconds(3600));
}

TEST(HistoryTest, PointIsLossAndMeanRttOfThePeriod) {
  Fixture f({"a"});
  History h(seconds(30));
  h.Observe(f.store, 1000, false);
  // Two rounds in the period: 4 sent, 3 answered, RTTs 1, 2, 3 ms.
  f.Round(0, 2, {0.001, 0.002}, 1010);
  f.Round(0, 2, {0.003}, 1020);
  h.Observe(f.store, 1030, true);
  auto v = h.Get("a");
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->rtt_seconds.size(), History::kPoints);
  ASSERT_EQ(v->loss.size(), History::kPoints);
  // Newest last; everything before it has no data.
  EXPECT_NEAR(v->rtt_seconds.back(), 0.002, 10e-6);
  EXPECT_NEAR(v->loss.back(), 0.25, 0.005);
  for (size_t i = 0; i + 1 < History::kPoints; ++i) {
    EXPECT_TRUE(std::isnan(v->rtt_seconds[i])) << i;
    EXPECT_TRUE(std::isnan(v->loss[i])) << i;
  }
}

TEST(HistoryTest, PeriodWithoutRepliesHasLossButNoRtt) {
  Fixture f({"a"});
  History h(seconds(30));
  h.Observe(f.store, 1000, false);
  f.Round(0, 3, {}, 1010);
  h.Observe(f.store, 1030, true);
  // Nothing happens in the next period at all.
  h.Observe(f.store, 1060, true);
  auto v = h.Get("a");
  ASSERT_TRUE(v);
  size_t n = History::kPoints;
  EXPECT_TRUE(std::isnan(v->rtt_seconds[n - 2]));
  EXPECT_DOUBLE_EQ(v->loss[n - 2], 1.0);
  EXPECT_TRUE(std::isnan(v->loss[n - 1]));
  EXPECT_TRUE(std::isnan(v->rtt_seconds[n - 1]));
}

TEST(HistoryTest, RttIsQuantizedAndSaturates) {
  Fixture f({"a"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  f.Round(0, 1, {0.000123456}, 1);
  h.Observe(f.store, 1, true);
  f.Round(0, 1, {2.5}, 2);
  h.Observe(f.store, 2, true);
  auto v = h.Get("a");
  ASSERT_TRUE(v);
  size_t n = History::kPoints;
  EXPECT_NEAR(v->rtt_seconds[n - 2], 0.00012, 1e-9);  // 10 µs steps
  EXPECT_NEAR(v->rtt_seconds[n - 1], History::kMaxRttSeconds, 1e-9);
}

TEST(HistoryTest, RingKeepsOnlyTheLastPoints) {
  Fixture f({"a"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  // 130 periods; period k has k+1 requests, all answered with RTT (k+1) * 10 µs.
  for (int k = 0; k < 130; ++k) {
    std::vector<double> rtts(static_cast<size_t>(k + 1), (k + 1) * 10e-6);
    f.Round(0, static_cast<uint32_t>(k + 1), rtts, k + 1);
    h.Observe(f.store, k + 1, true);
  }
  auto v = h.Get("a");
  ASSERT_TRUE(v);
  // Oldest kept is period 10 (130 - 120); newest is period 129.
  EXPECT_NEAR(v->rtt_seconds.front(), 11 * 10e-6, 1e-9);
  EXPECT_NEAR(v->rtt_seconds.back(), 130 * 10e-6, 1e-9);
  for (double l : v->loss) EXPECT_DOUBLE_EQ(l, 0.0);
}

TEST(HistoryTest, StateChangeTimeIsTheRoundThatChangedIt) {
  Fixture f({"a"});
  History h(seconds(30));
  f.Round(0, 2, {0.001, 0.001}, 500);
  h.Observe(f.store, 501, false);
  auto v = h.Get("a");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->state, 0);
  EXPECT_DOUBLE_EQ(v->last_change, 500);
  // Still alive later: the change time stays.
  f.Round(0, 2, {0.001, 0.001}, 510);
  h.Observe(f.store, 511, false);
  EXPECT_DOUBLE_EQ(h.Get("a")->last_change, 500);
  // Goes partial, then dark.
  f.Round(0, 2, {0.001}, 520);
  h.Observe(f.store, 521, false);
  EXPECT_EQ(h.Get("a")->state, 1);
  EXPECT_DOUBLE_EQ(h.Get("a")->last_change, 520);
  f.Round(0, 2, {}, 530);
  h.Observe(f.store, 531, false);
  EXPECT_EQ(h.Get("a")->state, 2);
  EXPECT_DOUBLE_EQ(h.Get("a")->last_change, 530);
}

TEST(HistoryTest, TargetWithoutRoundHasNoState) {
  Fixture f({"a"});
  History h(seconds(30));
  h.Observe(f.store, 1, false);
  auto v = h.Get("a");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->state, -1);
  EXPECT_DOUBLE_EQ(v->last_change, 0);
}

TEST(HistoryTest, RemovedTargetsAreForgottenAndNewOnesStartEmpty) {
  Fixture f({"a", "b"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  f.Round(0, 1, {0.001}, 1);
  h.Observe(f.store, 1, true);
  EXPECT_EQ(h.size(), 2u);
  // Reload: "b" leaves, "c" comes.
  Fixture g({"c"});
  auto list = std::make_shared<metrics::ResultStore::TargetList>();
  list->push_back(f.entries[0]);
  list->push_back(g.entries[0]);
  f.store.Replace(list);
  g.Round(0, 1, {0.004}, 2);  // before it was first seen: must not count
  h.Observe(f.store, 2, false);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_FALSE(h.Get("b").has_value());
  g.Round(0, 2, {0.002, 0.002}, 3);
  h.Observe(f.store, 3, true);
  auto c = h.Get("c");
  ASSERT_TRUE(c);
  EXPECT_NEAR(c->rtt_seconds.back(), 0.002, 1e-9);
  EXPECT_DOUBLE_EQ(c->loss.back(), 0.0);
  EXPECT_TRUE(std::isnan(c->rtt_seconds[History::kPoints - 2]));
  // "a" kept its older point, aligned one slot earlier.
  auto a = h.Get("a");
  ASSERT_TRUE(a);
  EXPECT_NEAR(a->rtt_seconds[History::kPoints - 2], 0.001, 1e-9);
}

TEST(HistoryTest, RestartedCountersDoNotMakeGarbage) {
  Fixture f({"a"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  for (int i = 0; i < 5; ++i) f.Round(0, 2, {0.001, 0.001}, i);
  h.Observe(f.store, 5, true);
  // Same name, new stats (its labels changed on reload): totals start over.
  Fixture g({"a"});
  g.Round(0, 2, {0.003}, 6);
  f.store.Replace(std::make_shared<metrics::ResultStore::TargetList>(g.entries));
  h.Observe(f.store, 6, true);
  auto v = h.Get("a");
  ASSERT_TRUE(v);
  EXPECT_NEAR(v->loss.back(), 0.5, 0.005);
  EXPECT_NEAR(v->rtt_seconds.back(), 0.003, 1e-9);
}

// A list of the given entries, as a reload would hand it to the store.
std::shared_ptr<const metrics::ResultStore::TargetList> ListOf(
    std::vector<metrics::TargetEntry> entries) {
  return std::make_shared<const metrics::ResultStore::TargetList>(std::move(entries));
}

// Number of points with data (a loss value) in a series.
size_t PointsWithData(const SeriesView& v) {
  return static_cast<size_t>(
      std::count_if(v.loss.begin(), v.loss.end(), [](double l) { return !std::isnan(l); }));
}

TEST(HistoryTest, ReplacedListCarriesHistoryByIdentity) {
  Fixture f({"a", "b", "c"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  f.Round(0, 1, {0.001}, 1);
  f.Round(1, 1, {0.002}, 1);
  f.Round(2, 1, {0.003}, 1);
  h.Observe(f.store, 1, true);
  // Rounds after the last point and before the reload still count in the next point.
  f.Round(0, 1, {0.005}, 2);
  // Reload: "c" moves first, "b" leaves, "d" comes, "a" keeps its stats.
  Fixture g({"d"});
  auto list = ListOf({f.entries[2], f.entries[0], g.entries[0]});
  f.store.Replace(list);
  h.Observe(f.store, 3, true);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_FALSE(h.Get("b").has_value());
  auto c = h.Get(*list, 0);
  auto a = h.Get(*list, 1);
  auto d = h.Get(*list, 2);
  ASSERT_TRUE(a && c && d);
  const size_t n = History::kPoints;
  EXPECT_NEAR(c->rtt_seconds[n - 2], 0.003, 1e-9);
  EXPECT_TRUE(std::isnan(c->loss[n - 1]));  // nothing sent since
  EXPECT_NEAR(a->rtt_seconds[n - 2], 0.001, 1e-9);
  EXPECT_NEAR(a->rtt_seconds[n - 1], 0.005, 1e-9);
  EXPECT_DOUBLE_EQ(a->loss[n - 1], 0.0);
  // The new target starts empty: first seen at this pass, no point yet.
  EXPECT_EQ(PointsWithData(*d), 0u);
  EXPECT_EQ(d->state, -1);
  // By name and by position agree.
  EXPECT_NEAR(h.Get("a")->rtt_seconds[n - 1], 0.005, 1e-9);
}

TEST(HistoryTest, AddressesOfOneNameKeepTheirOwnSeries) {
  Fixture f({"h", "h", "x"});  // e.g. all_addresses: one name, two entries
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  f.Round(0, 1, {0.001}, 1);
  f.Round(1, 1, {0.002}, 1);
  h.Observe(f.store, 1, true);
  auto first = h.Get(*f.store.Current(), 0);
  auto second = h.Get(*f.store.Current(), 1);
  ASSERT_TRUE(first && second);
  const size_t n = History::kPoints;
  EXPECT_NEAR(first->rtt_seconds[n - 1], 0.001, 1e-9);
  EXPECT_NEAR(second->rtt_seconds[n - 1], 0.002, 1e-9);
  // A reload that puts "x" first keeps each "h" with its own past, by rank.
  auto list = ListOf({f.entries[2], f.entries[0], f.entries[1]});
  f.store.Replace(list);
  h.Observe(f.store, 2, false);
  EXPECT_NEAR(h.Get(*list, 1)->rtt_seconds[n - 1], 0.001, 1e-9);
  EXPECT_NEAR(h.Get(*list, 2)->rtt_seconds[n - 1], 0.002, 1e-9);
}

TEST(HistoryTest, ShuffledReloadKeepsEveryTargetsOwnPast) {
  // 300 names, some listed twice; target i's point has RTT (i + 1) * 10 µs.
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("host-" + std::to_string(i % 250));
  Fixture f(names);
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  for (size_t i = 0; i < names.size(); ++i) f.Round(i, 1, {(i + 1) * 10e-6}, 1);
  h.Observe(f.store, 1, true);
  // Keep every other target, in a scrambled order, and add new ones.
  std::vector<size_t> kept;
  for (size_t i = 0; i < names.size(); i += 2) kept.push_back(i);
  for (size_t i = 0; i < kept.size(); ++i) std::swap(kept[i], kept[(i * 7919) % kept.size()]);
  Fixture g({"new-1", "new-2"});
  std::vector<metrics::TargetEntry> entries;
  for (size_t i : kept) entries.push_back(f.entries[i]);
  entries.insert(entries.begin() + 40, g.entries.begin(), g.entries.end());
  auto list = ListOf(entries);
  f.store.Replace(list);
  h.Observe(f.store, 2, false);
  ASSERT_EQ(h.size(), kept.size() + 2);
  for (size_t pos = 0; pos < list->size(); ++pos) {
    auto v = h.Get(*list, pos);
    ASSERT_TRUE(v) << pos;
    const std::string& name = (*list)[pos].info->name;
    if (name.rfind("new-", 0) == 0) {
      EXPECT_EQ(PointsWithData(*v), 0u) << name;
      continue;
    }
    // Identity is the name and the rank among entries of that name: the r-th
    // "host-7" of the new list continues the r-th "host-7" of the old one.
    size_t rank = 0;
    for (size_t p = 0; p < pos; ++p) rank += (*list)[p].info->name == name ? 1 : 0;
    size_t original = 0;
    for (size_t seen = 0;; ++original) {
      if (names[original] == name && seen++ == rank) break;
    }
    EXPECT_NEAR(v->rtt_seconds.back(), (original + 1) * 10e-6, 1e-9) << name << " at " << pos;
  }
}

TEST(HistoryTest, PageRacingAReloadStillFindsTheTarget) {
  Fixture f({"a", "b"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  f.Round(1, 1, {0.002}, 1);
  h.Observe(f.store, 1, true);
  // The page got a newer list than the history has seen yet (or an older one).
  auto newer = ListOf({f.entries[1], f.entries[0]});
  auto b = h.Get(*newer, 0);
  ASSERT_TRUE(b);
  EXPECT_NEAR(b->rtt_seconds[History::kPoints - 1], 0.002, 1e-9);
  Fixture g({"zz"});
  EXPECT_FALSE(h.Get(*ListOf(g.entries), 0).has_value());
  EXPECT_FALSE(h.Get(*newer, 7).has_value());
}

TEST(HistoryTest, PageRacingAReloadTellsEntriesOfOneNameApartByStats) {
  Fixture f({"h", "h"});
  History h(seconds(1));
  h.Observe(f.store, 0, false);
  f.Round(0, 1, {0.001}, 1);
  f.Round(1, 1, {0.002}, 1);
  h.Observe(f.store, 1, true);
  auto swapped = ListOf({f.entries[1], f.entries[0]});
  EXPECT_NEAR(h.Get(*swapped, 0)->rtt_seconds.back(), 0.002, 1e-9);
  EXPECT_NEAR(h.Get(*swapped, 1)->rtt_seconds.back(), 0.001, 1e-9);
}

TEST(HistoryTest, NothingIsShownBeforeTheFirstVisit) {
  Fixture f({"a", "b", "c", "d"});
  History h(seconds(1));
  // Only the first half is visited: the others are mapped but not yet seen.
  h.ObserveSlice(f.store, 0, 0, 2);
  EXPECT_EQ(h.size(), 4u);
  EXPECT_TRUE(h.Get("a").has_value());
  EXPECT_TRUE(h.Get("b").has_value());
  EXPECT_FALSE(h.Get("c").has_value());
  EXPECT_FALSE(h.Get(*f.store.Current(), 3).has_value());
}

TEST(HistoryTest, PointClosedMidPassReachesEveryTargetExactlyOnce) {
  std::vector<std::string> names = Numbered(10);
  Fixture f(names);
  History h(seconds(1));
  const size_t slices = 10;  // one target per slice
  for (size_t s = 0; s < slices; ++s) h.ObserveSlice(f.store, 0, s, slices);
  for (size_t i = 0; i < names.size(); ++i) f.Round(i, 1, {0.001}, 1);
  for (size_t s = 0; s < 5; ++s) h.ObserveSlice(f.store, 1, s, slices);
  h.ClosePoint();
  for (size_t s = 5; s < slices; ++s) h.ObserveSlice(f.store, 1, s, slices);
  // Targets after the close have their point, those before it not yet.
  EXPECT_EQ(PointsWithData(*h.Get("t2")), 0u);
  EXPECT_EQ(PointsWithData(*h.Get("t7")), 1u);
  // A second round lands after t7's close but before t2's: t2's point has both.
  f.Round(2, 1, {}, 2);
  f.Round(7, 1, {}, 2);
  for (size_t s = 0; s < slices; ++s) h.ObserveSlice(f.store, 2, s, slices);
  // Another whole pass without a close adds nothing.
  for (size_t s = 0; s < slices; ++s) h.ObserveSlice(f.store, 3, s, slices);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(PointsWithData(*h.Get(names[i])), 1u) << names[i];
  }
  EXPECT_DOUBLE_EQ(h.Get("t2")->loss.back(), 0.5);
  EXPECT_DOUBLE_EQ(h.Get("t7")->loss.back(), 0.0);
  // t7's second round goes into its next point.
  h.ClosePoint();
  for (size_t s = 0; s < slices; ++s) h.ObserveSlice(f.store, 4, s, slices);
  EXPECT_DOUBLE_EQ(h.Get("t7")->loss.back(), 1.0);
  EXPECT_TRUE(std::isnan(h.Get("t2")->loss.back()));
}

TEST(HistoryTest, ReloadMidPassNeitherDoublesNorDropsAPoint) {
  std::vector<std::string> names = Numbered(10);
  Fixture f(names);
  History h(seconds(1));
  const size_t slices = 10;
  for (size_t s = 0; s < slices; ++s) h.ObserveSlice(f.store, 0, s, slices);
  for (size_t i = 0; i < names.size(); ++i) f.Round(i, 1, {0.001}, 1);
  h.ClosePoint();
  for (size_t s = 0; s < 5; ++s) h.ObserveSlice(f.store, 1, s, slices);
  // Reversed: the closed t0..t4 move to the slices still to come, t5..t9 behind.
  std::vector<metrics::TargetEntry> reversed(f.entries.rbegin(), f.entries.rend());
  f.store.Replace(ListOf(reversed));
  for (size_t s = 5; s < slices; ++s) h.ObserveSlice(f.store, 1, s, slices);
  EXPECT_EQ(PointsWithData(*h.Get("t0")), 1u);
  EXPECT_EQ(PointsWithData(*h.Get("t9")), 0u);
  for (size_t s = 0; s < slices; ++s) h.ObserveSlice(f.store, 2, s, slices);
  for (size_t i = 0; i < names.size(); ++i) {
    auto v = h.Get(names[i]);
    ASSERT_TRUE(v);
    EXPECT_EQ(PointsWithData(*v), 1u) << names[i];
    EXPECT_NEAR(v->rtt_seconds.back(), 0.001, 1e-9) << names[i];
  }
}

TEST(HistoryTest, PacedSlicesGiveEveryTargetOnePointPerPeriod) {
  // 37 targets over 10 slices, driven by the pacer on a fake clock. Every step
  // publishes one round per target, 2 sent, alternately 1 and 2 answered: a
  // point spanning exactly one period (10 steps) has 25 % loss whatever its
  // phase; 9 or 11 steps would give 22 % or 27 %, a doubled close no data.
  std::vector<std::string> names = Numbered(37);
  Fixture f(names);
  History h(seconds(1));
  SamplePacer::Clock::time_point t0{};
  SamplePacer pacer(seconds(1), t0);
  ASSERT_EQ(pacer.wakes_per_point(), SamplePacer::kSlices);
  ASSERT_EQ(pacer.period(), milliseconds(100));
  const int periods = 12;
  int closes = 0;
  for (int step = 0; step < periods * 10 + 10; ++step) {
    SamplePacer::Clock::time_point now = pacer.next_wake();
    EXPECT_EQ(now, t0 + milliseconds(100) * step);
    SamplePacer::Step st = pacer.Next(now);
    if (st.close) {
      h.ClosePoint();
      ++closes;
    }
    double wall = 1000 + step * 0.1;
    h.ObserveSlice(f.store, wall, st.slice, SamplePacer::kSlices);
    for (size_t i = 0; i < names.size(); ++i) {
      f.Round(i, 2, step % 2 == 0 ? std::vector<double>{0.001} : std::vector<double>{0.001, 0.001},
              wall);
    }
  }
  ASSERT_EQ(closes, periods);
  for (const std::string& name : names) {
    auto v = h.Get(name);
    ASSERT_TRUE(v) << name;
    // The first point starts at the first visit, the others span whole periods.
    EXPECT_EQ(PointsWithData(*v), static_cast<size_t>(periods)) << name;
    for (size_t k = History::kPoints - periods + 1; k < History::kPoints; ++k) {
      EXPECT_DOUBLE_EQ(v->loss[k], 0.25) << name << " point " << k;
      EXPECT_NEAR(v->rtt_seconds[k], 0.001, 1e-9);
    }
  }
}

TEST(SamplePacerTest, WakesPerPointAreWholeAndTheClockSkipsAStall) {
  using Clock = SamplePacer::Clock;
  Clock::time_point t0{};
  SamplePacer thirty(seconds(30), t0);
  EXPECT_EQ(thirty.period(), milliseconds(100));
  EXPECT_EQ(thirty.wakes_per_point(), 300u);
  SamplePacer fast(milliseconds(100), t0);  // a pass per point when points are short
  EXPECT_EQ(fast.period(), milliseconds(10));
  EXPECT_EQ(fast.wakes_per_point(), 10u);
  SamplePacer odd(milliseconds(1550), t0);  // the period divides the point exactly
  EXPECT_EQ(odd.wakes_per_point(), 16u);
  EXPECT_EQ(odd.period() * 16, milliseconds(1550));
  // Slices go round; the first close comes after one point's worth of wakes.
  SamplePacer p(seconds(1), t0);
  for (size_t i = 0; i < 25; ++i) {
    SamplePacer::Step st = p.Next(p.next_wake());
    EXPECT_EQ(st.slice, i % SamplePacer::kSlices);
    EXPECT_EQ(st.close, i == 10 || i == 20) << i;
  }
  // Woken 5 s late: the next wake is one period from now, not a burst of missed ones.
  Clock::time_point late = p.next_wake() + seconds(5);
  p.Next(late);
  EXPECT_EQ(p.next_wake(), late + milliseconds(100));
}

TEST(HistoryTest, NewStatsUnderAKeptNameCountFromZero) {
  // New stats that already outgrew the old ones' last totals: only a reset at
  // the reload, not the wrap check, keeps the point right. Once with the
  // target in the same place, once moved.
  for (bool moved : {false, true}) {
    Fixture f({"a", "b"});
    History h(seconds(1));
    h.Observe(f.store, 0, false);
    f.Round(0, 1, {0.001}, 1);
    h.Observe(f.store, 1, true);
    Fixture g({"a"});
    for (int i = 0; i < 3; ++i) g.Round(0, 2, {0.003}, 2);
    f.store.Replace(moved ? ListOf({f.entries[1], g.entries[0]})
                          : ListOf({g.entries[0], f.entries[1]}));
    h.Observe(f.store, 3, true);
    auto v = h.Get("a");
    ASSERT_TRUE(v);
    EXPECT_DOUBLE_EQ(v->loss.back(), 0.5) << moved;
    EXPECT_NEAR(v->rtt_seconds.back(), 0.003, 1e-9) << moved;
    EXPECT_NEAR(v->rtt_seconds[History::kPoints - 2], 0.001, 1e-9) << moved;
  }
}

TEST(SamplerTest, RunsAtLowPriority) {
  Fixture f({"a"});
  History h(seconds(30));
  Sampler s(f.store, h, seconds(30));
  // Some thread of this process becomes SCHED_BATCH with a higher nice value
  // than ours; the sampler sets it first thing, so poll briefly.
  errno = 0;
  const int own_nice = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  bool found = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (!found && std::chrono::steady_clock::now() < deadline) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      pid_t tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
      errno = 0;
      int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
      if (sched_getscheduler(tid) == SCHED_BATCH && errno == 0 &&
          nice >= std::min(19, own_nice + 10)) {
        found = true;
      }
    }
    if (!found) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(found);
}

TEST(SamplerTest, SamplesAndStopsPromptly) {
  Fixture f({"a", "b"});
  History h(milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  {
    Sampler s(f.store, h, milliseconds(100));
    // Keep publishing rounds (bounded) until a closed point carries one: the
    // sampler's first look may come after any single round.
    auto deadline = start + seconds(5);
    bool seen = false;
    for (int i = 1; !seen && std::chrono::steady_clock::now() < deadline; ++i) {
      f.Round(0, 1, {0.001}, i);
      auto v = h.Get("a");
      seen = v && !std::isnan(v->rtt_seconds.back());
      if (!seen) std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_TRUE(seen);
    EXPECT_EQ(h.size(), 2u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

TEST(SamplerTest, ReloadsWhileThePageReads) {
  // For TSan: the sampler remaps and writes while this thread replaces lists,
  // publishes rounds and reads every series, as the page does.
  Fixture f({"a", "b", "c"});
  Fixture g({"d"});
  auto one = ListOf({f.entries[0], f.entries[1], f.entries[2]});
  auto two = ListOf({f.entries[2], g.entries[0], f.entries[0]});
  History h(milliseconds(20));
  Sampler s(f.store, h, milliseconds(20));
  bool seen = false;
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  for (int i = 1; !seen && std::chrono::steady_clock::now() < deadline; ++i) {
    auto list = i % 2 ? one : two;
    f.store.Replace(list);
    f.Round(0, 1, {0.001}, i);
    for (size_t k = 0; k < list->size(); ++k) (void)h.Get(*list, k);
    (void)h.Get("b");
    auto v = h.Get("a");
    seen = i > 20 && v && PointsWithData(*v) > 0;
    std::this_thread::sleep_for(milliseconds(2));
  }
  EXPECT_TRUE(seen);
}

TEST(SamplerTest, DestructorDoesNotWaitForALongPeriod) {
  Fixture f({"a"});
  History h(seconds(30));
  auto start = std::chrono::steady_clock::now();
  { Sampler s(f.store, h, seconds(30)); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(900));
}

}  // namespace
}  // namespace ping_exporter::status
