#include "metrics/store.h"

#include <gtest/gtest.h>

#include <thread>

namespace ping_exporter::metrics {
namespace {

const std::vector<double> kBounds = {0.001, 0.01, 0.1};

TEST(StoreTest, PublishAccumulatesAndBuckets) {
  TargetStats stats(kBounds.size());
  std::vector<double> rtts = {0.0005, 0.005, 0.05};
  PublishedRound r;
  r.sent = 4;
  r.received = 3;
  r.rtt_min = 0.0005;
  r.rtt_max = 0.05;
  r.reply_ttl = 64;
  r.rtts = rtts;
  stats.Publish(r, kBounds);
  std::vector<double> slow = {0.5};
  r.rtts = slow;
  r.received = 1;
  stats.Publish(r, kBounds);
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
  TargetStats stats(kBounds.size());
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
  TargetStats stats(kBounds.size());
  constexpr int kRounds = 20000;
  std::thread writer([&] {
    std::vector<double> rtts = {0.002, 0.003};
    for (int i = 0; i < kRounds; ++i) {
      PublishedRound r;
      r.sent = 2;
      r.received = 2;
      r.rtt_min = 0.002 + i;  // changes every round, tied to the counters below
      r.rtts = rtts;
      stats.Publish(r, kBounds);
    }
  });
  TargetSnapshot s;
  uint64_t last = 0;
  for (int i = 0; i < 20000; ++i) {
    stats.Read(&s);
    ASSERT_EQ(s.sent_total % 2, 0u);
    ASSERT_EQ(s.rtt_count, s.received_total);
    ASSERT_EQ(s.buckets.back(), s.rtt_count);
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
  ResultStore store(kBounds);
  EXPECT_TRUE(store.Current()->empty());
  auto list = std::make_shared<ResultStore::TargetList>();
  list->push_back(TargetEntry::Make(TargetInfo{"h", "127.0.0.1", "", {}, ""}, 3));
  auto held = store.Current();
  store.Replace(list);
  EXPECT_EQ(store.Current()->size(), 1u);
  EXPECT_TRUE(held->empty());  // old snapshot stays valid for a running scrape
}

}  // namespace
}  // namespace ping_exporter::metrics
