#include "metrics/store.h"

#include <gtest/gtest.h>

#include <thread>

namespace ping_exporter::metrics {
namespace {

// Classic buckets with these bounds (and native ones too with `h` = kBoth).
std::shared_ptr<const SeriesOptions> Classic(RttHistogram h = RttHistogram::kClassic) {
  SeriesOptions o;
  o.rtt_histogram = h;
  o.rtt_buckets = {0.001, 0.01, 0.1};
  return std::make_shared<const SeriesOptions>(std::move(o));
}

TEST(StoreTest, PublishAccumulatesAndBuckets) {
  TargetStats stats(Classic());
  std::vector<double> rtts = {0.0005, 0.005, 0.05};
  PublishedRound r;
  r.sent = 4;
  r.received = 3;
  r.rtt_min = 0.0005;
  r.rtt_max = 0.05;
  r.reply_ttl = 64;
  r.rtts = rtts;
  stats.Publish(r);
  std::vector<double> slow = {0.5};
  r.rtts = slow;
  r.received = 1;
  stats.Publish(r);
  TargetSnapshot s;
  stats.Read(&s);
  EXPECT_TRUE(s.has_round);
  EXPECT_EQ(s.sent_total, 8u);
  EXPECT_EQ(s.received_total, 4u);
  EXPECT_EQ(s.round_received, 1u);
  EXPECT_EQ(s.reply_ttl, 64);
  ASSERT_EQ(s.buckets.size(), 4u);
  EXPECT_EQ(s.buckets, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(s.rtt_count, 4u);
  EXPECT_NEAR(s.rtt_sum, 0.5555, 1e-12);
}

TEST(StoreTest, FreshStatsHaveNoRound) {
  TargetStats stats(Classic());
  TargetSnapshot s;
  stats.Read(&s);
  EXPECT_FALSE(s.has_round);
  EXPECT_EQ(s.reply_ttl, -1);
  stats.AddDuplicate();
  stats.AddLate();
  stats.AddLate();
  stats.AddInvalid();
  stats.AddSendError(SendError::kNoBuffer);
  stats.Read(&s);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.late, 2u);
  EXPECT_EQ(s.invalid, 1u);
  EXPECT_EQ(s.send_errors[static_cast<size_t>(SendError::kNoBuffer)], 1u);
}

// A reader never sees a half-written round (run under TSan too).
TEST(StoreTest, ConcurrentReadersSeeConsistentRounds) {
  TargetStats stats(Classic(RttHistogram::kBoth));
  constexpr int kRounds = 20000;
  std::thread writer([&] {
    std::vector<double> rtts = {0.002, 0.003};
    for (int i = 0; i < kRounds; ++i) {
      PublishedRound r;
      r.sent = 2;
      r.received = 2;
      r.rtt_min = 0.002 + i;  // changes every round, tied to the counters below
      // Spread wider every round, so the native buckets reshape while readers read.
      rtts[1] = 0.003 * (1 + i % 1000);
      r.rtts = rtts;
      stats.Publish(r);
    }
  });
  TargetSnapshot s;
  uint64_t last = 0;
  for (int i = 0; i < 20000; ++i) {
    stats.Read(&s);
    ASSERT_EQ(s.sent_total % 2, 0u);
    ASSERT_EQ(s.rtt_count, s.received_total);
    ASSERT_EQ(s.buckets.back(), s.rtt_count);
    uint64_t native = s.native.zero_count;
    for (uint64_t c : s.native.counts) native += c;
    ASSERT_EQ(native, s.rtt_count);
    ASSERT_GE(s.sent_total, last);
    if (s.has_round) {
      ASSERT_NEAR(s.rtt_min, 0.002 + double(s.sent_total / 2 - 1), 1e-6);
    }
    last = s.sent_total;
  }
  writer.join();
  stats.Read(&s);
  EXPECT_EQ(s.sent_total, 2u * kRounds);
}

TEST(StoreTest, HistogramsFollowTheOptions) {
  std::vector<double> rtts = {0.0005, 0.005};
  PublishedRound r;
  r.sent = r.received = 2;
  r.rtts = rtts;
  for (RttHistogram h : {RttHistogram::kNative, RttHistogram::kClassic, RttHistogram::kBoth}) {
    SeriesOptions o;
    o.rtt_histogram = h;
    o.rtt_buckets = {0.001};
    TargetStats stats(std::make_shared<const SeriesOptions>(o));
    stats.Publish(r);
    TargetSnapshot s;
    stats.Read(&s);
    EXPECT_EQ(s.rtt_count, 2u) << RttHistogramName(h);
    // Classic: one bound and +Inf; native-only: +Inf alone (the count).
    EXPECT_EQ(s.buckets, o.classic() ? (std::vector<uint64_t>{1, 2}) : (std::vector<uint64_t>{2}))
        << RttHistogramName(h);
    uint64_t native = s.native.zero_count;
    for (uint64_t c : s.native.counts) native += c;
    EXPECT_EQ(native, o.native() ? 2u : 0u) << RttHistogramName(h);
  }
  // No options (a one-off round): sum and count only.
  TargetStats bare(nullptr);
  bare.Publish(r);
  TargetSnapshot s;
  bare.Read(&s);
  EXPECT_EQ(s.buckets, std::vector<uint64_t>{2});
  EXPECT_TRUE(s.native.counts.empty());
}

TEST(StoreTest, RenderLabelsEscapes) {
  TargetInfo info;
  info.name = "a\"b\\c\nd";
  info.address = "127.0.0.1";
  info.labels = {{"site", "x"}};
  EXPECT_EQ(RenderLabels(info), "target=\"a\\\"b\\\\c\\nd\",address=\"127.0.0.1\",site=\"x\"");
}

TEST(StoreTest, RenderLabelsPutsTheGroupBeforeStaticLabels) {
  TargetInfo info;
  info.name = "::1";
  info.address = "::1";
  info.group = "core";
  info.labels = {{"site", "x"}};
  EXPECT_EQ(RenderLabels(info), "target=\"::1\",address=\"::1\",group=\"core\",site=\"x\"");
  info.group.clear();
  EXPECT_EQ(RenderLabels(info), "target=\"::1\",address=\"::1\",site=\"x\"");
}

TEST(StoreTest, RenderLabelsPutsTheSourceAfterTheGroupAndLeavesAnEmptyOneOut) {
  TargetInfo info;
  info.name = "peers";
  info.address = "::1";
  info.group = "mesh";
  info.source = "node \"7\"";
  info.labels = {{"site", "x"}};
  EXPECT_EQ(RenderLabels(info),
            "target=\"peers\",address=\"::1\",group=\"mesh\",source=\"node \\\"7\\\"\",site=\"x\"");
  info.source.clear();
  EXPECT_EQ(RenderLabels(info), "target=\"peers\",address=\"::1\",group=\"mesh\",site=\"x\"");
}

TEST(StoreTest, ErrnoMapping) {
  EXPECT_EQ(SendErrorFromErrno(ENETUNREACH), SendError::kNetworkUnreachable);
  EXPECT_EQ(SendErrorFromErrno(EPERM), SendError::kPermission);
  EXPECT_EQ(SendErrorFromErrno(ENOBUFS), SendError::kNoBuffer);
  EXPECT_EQ(SendErrorFromErrno(12345), SendError::kOther);
  EXPECT_STREQ(SendErrorName(SendError::kHostUnreachable), "host_unreachable");
}

TEST(StoreTest, ReplaceSwapsTargetSet) {
  ResultStore store;
  EXPECT_TRUE(store.Current()->empty());
  auto list = std::make_shared<ResultStore::TargetList>();
  list->push_back(TargetEntry::Make(TargetInfo{"h", "127.0.0.1", "", {}, ""}, Classic()));
  auto held = store.Current();
  store.Replace(list);
  EXPECT_EQ(store.Current()->size(), 1u);
  EXPECT_TRUE(held->empty());  // old snapshot stays valid for a running scrape
}

}  // namespace
}  // namespace ping_exporter::metrics
