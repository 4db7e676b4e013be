#include "status/history.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ping_exporter::status {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A store with the named targets, each with fresh stats.
struct Fixture {
  metrics::ResultStore store{{0.001, 0.01}};
  std::vector<metrics::TargetEntry> entries;

  explicit Fixture(std::vector<std::string> names) {
    for (auto& n : names) {
      metrics::TargetInfo info;
      info.name = n;
      info.address = "127.0.0.1";
      entries.push_back(metrics::TargetEntry::Make(std::move(info), 2));
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
    entries[i].stats->Publish(r, store.bucket_bounds());
  }
};

TEST(HistoryTest, StaysWithinTheMemoryBudget) {
  // 120 points of uint16 RTT + uint8 loss plus a few counters.
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

TEST(SamplerTest, DestructorDoesNotWaitForALongPeriod) {
  Fixture f({"a"});
  History h(seconds(30));
  auto start = std::chrono::steady_clock::now();
  { Sampler s(f.store, h, seconds(30)); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(900));
}

}  // namespace
}  // namespace ping_exporter::status
