// The directly written protobuf exposition, read back with libprotobuf and the
// client_model messages protoc generates from Debian's metrics.proto.

#include "metrics/proto_writer.h"

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <gtest/gtest.h>
#include <metrics.pb.h>

#include <map>
#include <string>
#include <vector>

#include "metrics/exposition.h"

namespace ping_exporter::metrics {
namespace {

namespace pb = io::prometheus::client;

// Every delimited MetricFamily of `bytes`; fails the test if any byte is left unparsed.
std::vector<pb::MetricFamily> Parse(const std::string& bytes) {
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  std::vector<pb::MetricFamily> out;
  for (;;) {
    pb::MetricFamily f;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&f, &in, &clean_eof)) {
      EXPECT_TRUE(clean_eof) << "garbage after " << out.size() << " families";
      return out;
    }
    out.push_back(std::move(f));
  }
}

// libprotobuf's own encoding of the same messages: equal bytes mean the writer's are canonical.
std::string Reencode(const std::vector<pb::MetricFamily>& families) {
  std::string out;
  for (const pb::MetricFamily& f : families) {
    google::protobuf::io::StringOutputStream stream(&out);
    EXPECT_TRUE(google::protobuf::util::SerializeDelimitedToZeroCopyStream(f, &stream));
  }
  return out;
}

std::map<std::string, std::string> Labels(const pb::Metric& m) {
  std::map<std::string, std::string> out;
  for (const pb::LabelPair& l : m.label()) out[l.name()] = l.value();
  return out;
}

const pb::MetricFamily* Find(const std::vector<pb::MetricFamily>& fs, std::string_view name) {
  for (const pb::MetricFamily& f : fs) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

std::shared_ptr<const SeriesOptions> Options(RttHistogram h, Profile p = Profile::kFull) {
  SeriesOptions o;
  o.rtt_histogram = h;
  o.rtt_buckets = {0.001, 0.01};
  o.profile = p;
  return std::make_shared<const SeriesOptions>(std::move(o));
}

const std::vector<double> kRtts = {0.0049, 0.005, 0.05, 0.0000005};

// "127.0.0.1" answered kRtts; "::1" got nothing back and one no_route error. Both are probed
// from source "node-a" (--source.name, as mesh agents run).
std::string ScrapeProto(std::shared_ptr<const SeriesOptions> options) {
  ResultStore store;
  auto list = std::make_shared<ResultStore::TargetList>();
  for (const char* name : {"127.0.0.1", "::1"}) {
    list->push_back(
        TargetEntry::Make(TargetInfo{name, name, "g", {{"site", "a\"b"}}, "", "node-a"}, options));
  }
  PublishedRound up{4, 4, 0.0000005, 0.015, 0.05, 0.02, 64, 1700000000.5, kRtts, 0.004};
  (*list)[0].stats->Publish(up);
  PublishedRound down{2, 0, 0, 0, 0, 0, -1, 1700000000.5, {}};
  (*list)[1].stats->Publish(down);
  (*list)[1].stats->AddSendError(SendError::kHostUnreachable);
  store.Replace(list);
  std::string out;
  WriteTargetFamilies(store, Format::kProtobuf, [&](std::string_view piece) { out.append(piece); });
  return out;
}

TEST(ProtoWriterTest, LibprotobufReadsEveryFamilyInTableOrder) {
  const std::string bytes = ScrapeProto(Options(RttHistogram::kBoth));
  const std::vector<pb::MetricFamily> families = Parse(bytes);
  EXPECT_EQ(Reencode(families), bytes);
  std::vector<std::string> want;
  for (const Family* f : kAllFamilies) {
    if (f->scope == Scope::kTarget) want.emplace_back(f->name);
  }
  std::vector<std::string> got;
  for (const pb::MetricFamily& f : families) got.push_back(f.name());
  EXPECT_EQ(got, want);
  for (const pb::MetricFamily& f : families) {
    const Family* entry = FindFamily(f.name());
    ASSERT_NE(entry, nullptr) << f.name();
    EXPECT_EQ(f.help(), entry->help);
    const pb::MetricType type = entry->type == MetricType::kCounter     ? pb::COUNTER
                                : entry->type == MetricType::kHistogram ? pb::HISTOGRAM
                                                                        : pb::GAUGE;
    EXPECT_EQ(f.type(), type) << f.name();
    for (const pb::Metric& m : f.metric()) {
      EXPECT_EQ(Labels(m).at("site"), "a\"b") << "label values are raw bytes, not escaped";
      EXPECT_EQ(m.has_counter(), type == pb::COUNTER) << f.name();
      EXPECT_EQ(m.has_gauge(), type == pb::GAUGE) << f.name();
    }
  }
  const pb::MetricFamily* up = Find(families, "ping_up");
  ASSERT_NE(up, nullptr);
  ASSERT_EQ(up->metric_size(), 2);
  EXPECT_EQ(Labels(up->metric(0)), (std::map<std::string, std::string>{{"target", "127.0.0.1"},
                                                                       {"address", "127.0.0.1"},
                                                                       {"group", "g"},
                                                                       {"source", "node-a"},
                                                                       {"site", "a\"b"}}));
  EXPECT_EQ(up->metric(0).gauge().value(), 1);
  EXPECT_EQ(up->metric(1).gauge().value(), 0);
  // The series budget: one reason, one series.
  const pb::MetricFamily* errors = Find(families, "ping_send_errors_total");
  ASSERT_NE(errors, nullptr);
  ASSERT_EQ(errors->metric_size(), 1);
  EXPECT_EQ(Labels(errors->metric(0)).at("reason"), "host_unreachable");
  EXPECT_EQ(errors->metric(0).counter().value(), 1);
  // Only the answering target has a jitter (two replies or more) and a TTL.
  const pb::MetricFamily* jitter = Find(families, "ping_jitter_seconds");
  ASSERT_NE(jitter, nullptr);
  ASSERT_EQ(jitter->metric_size(), 1);
  EXPECT_EQ(jitter->metric(0).gauge().value(), 0.004);
  ASSERT_NE(Find(families, "ping_reply_ttl"), nullptr);
  EXPECT_EQ(Find(families, "ping_reply_ttl")->metric_size(), 1);
}

TEST(ProtoWriterTest, HistogramCarriesNativeBuckets) {
  const std::vector<pb::MetricFamily> families = Parse(ScrapeProto(Options(RttHistogram::kBoth)));
  const pb::MetricFamily* rtt = Find(families, "ping_rtt_seconds");
  ASSERT_NE(rtt, nullptr);
  ASSERT_EQ(rtt->metric_size(), 2);
  const pb::Histogram& h = rtt->metric(0).histogram();
  EXPECT_EQ(h.sample_count(), 4u);
  EXPECT_DOUBLE_EQ(h.sample_sum(), 0.0049 + 0.005 + 0.05 + 0.0000005);
  // "both": the classic buckets are the text formats'; protobuf scrapers keep the native ones.
  EXPECT_EQ(h.bucket_size(), 0);
  // Native: schema 3 (factor 1.1), 1 µs zero bucket, counts rebuilt from spans and deltas.
  EXPECT_EQ(h.schema(), 3);
  EXPECT_EQ(h.zero_threshold(), kDefaultNativeZeroThreshold);
  EXPECT_EQ(h.zero_count(), 1u);
  std::map<int32_t, int64_t> got;
  int32_t index = 0;
  int64_t count = 0;
  int delta = 0;
  for (int s = 0; s < h.positive_span_size(); ++s) {
    index += h.positive_span(s).offset();
    for (uint32_t k = 0; k < h.positive_span(s).length(); ++k, ++index) {
      count += h.positive_delta(delta++);
      if (count != 0) got[index] = count;
    }
  }
  EXPECT_EQ(delta, h.positive_delta_size());
  std::map<int32_t, int64_t> want;
  for (double v : kRtts) {
    if (v > kDefaultNativeZeroThreshold) ++want[NativeBucketIndex(v, 3)];
  }
  EXPECT_EQ(got, want);
  // 4.9 ms and 5 ms are adjacent buckets: one span; 50 ms is far: a second span.
  EXPECT_EQ(h.positive_span_size(), 2);
  // The silent target: a native histogram without observations (zero threshold set).
  const pb::Histogram& empty = rtt->metric(1).histogram();
  EXPECT_EQ(empty.sample_count(), 0u);
  EXPECT_GT(empty.zero_threshold(), 0);
  EXPECT_EQ(empty.positive_span_size(), 0);
}

TEST(ProtoWriterTest, ClassicModeCarriesClassicBucketsOnly) {
  auto rtt = [](RttHistogram mode) {
    const std::vector<pb::MetricFamily> fs = Parse(ScrapeProto(Options(mode)));
    return Find(fs, "ping_rtt_seconds")->metric(0).histogram();
  };
  const pb::Histogram classic = rtt(RttHistogram::kClassic);
  // The finite bounds, cumulative; +Inf is implied by the count.
  ASSERT_EQ(classic.bucket_size(), 2);
  EXPECT_EQ(classic.bucket(0).upper_bound(), 0.001);
  EXPECT_EQ(classic.bucket(0).cumulative_count(), 1u);
  EXPECT_EQ(classic.bucket(1).upper_bound(), 0.01);
  EXPECT_EQ(classic.bucket(1).cumulative_count(), 3u);
  EXPECT_FALSE(classic.has_schema());
  EXPECT_FALSE(classic.has_zero_threshold());  // so Prometheus reads it as a classic histogram
  const pb::Histogram native = rtt(RttHistogram::kNative);
  EXPECT_EQ(native.bucket_size(), 0);
  EXPECT_TRUE(native.has_schema());
  EXPECT_EQ(native.sample_count(), 4u);
}

TEST(ProtoWriterTest, ProfileDecidesTheFamilies) {
  const std::vector<pb::MetricFamily> fs =
      Parse(ScrapeProto(Options(RttHistogram::kNative, Profile::kMinimal)));
  std::vector<std::string> got;
  for (const pb::MetricFamily& f : fs) got.push_back(f.name());
  EXPECT_EQ(got, (std::vector<std::string>{"ping_up", "ping_packets_sent_total",
                                           "ping_packets_received_total", "ping_loss_ratio",
                                           "ping_rtt_seconds"}));
}

TEST(ProtoWriterTest, FamilyWriterWritesSmallFamilies) {
  FamilyWriter w(Format::kProtobuf);
  w.Add(family::kTargets, 3);
  w.Begin(family::kBuildInfo);
  w.Sample({"1.2.3", "abc"}, 1);
  w.Begin(family::kResolveErrors);  // no samples: left out
  w.Add(family::kRoundsLate, 7);
  const std::string bytes = w.Finish();
  const std::vector<pb::MetricFamily> fs = Parse(bytes);
  EXPECT_EQ(Reencode(fs), bytes);
  ASSERT_EQ(fs.size(), 3u);
  EXPECT_EQ(fs[0].name(), "ping_exporter_targets");
  EXPECT_EQ(fs[0].metric(0).gauge().value(), 3);
  EXPECT_EQ(fs[1].name(), "ping_exporter_build_info");
  EXPECT_EQ(Labels(fs[1].metric(0)),
            (std::map<std::string, std::string>{{"version", "1.2.3"}, {"revision", "abc"}}));
  EXPECT_EQ(fs[2].type(), pb::COUNTER);
  EXPECT_EQ(fs[2].metric(0).counter().value(), 7);
}

}  // namespace
}  // namespace ping_exporter::metrics
