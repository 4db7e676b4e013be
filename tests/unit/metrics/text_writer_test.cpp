#include "metrics/text_writer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "metrics/exposition.h"
#include "metrics/process_stats.h"

namespace ping_exporter::metrics {
namespace {

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

std::shared_ptr<const SeriesOptions> Options(Profile profile,
                                             RttHistogram h = RttHistogram::kClassic) {
  SeriesOptions o;
  o.rtt_histogram = h;
  o.rtt_buckets = {0.001, 0.01};
  o.profile = profile;
  return std::make_shared<const SeriesOptions>(std::move(o));
}

// A store of "127.0.0.1" (answering), "::1" (silent, two no_buffer errors) and "pending" (no
// round yet), every target with `options`.
ResultStore& StoreOf(ResultStore& store, std::shared_ptr<const SeriesOptions> options) {
  auto list = std::make_shared<ResultStore::TargetList>();
  for (const char* name : {"127.0.0.1", "::1", "pending"}) {
    TargetInfo info{name, name, "", {{"site", "lab"}}, ""};
    info.label_text = RenderLabels(info);
    list->push_back(TargetEntry::Make(info, options));
  }
  std::vector<double> rtts = {0.0004, 0.002};
  PublishedRound up{2, 2, 0.0004, 0.0012, 0.002, 0.0008, 64, 1700000000.5, rtts, 0.0125};
  (*list)[0].stats->Publish(up);
  PublishedRound down{2, 0, 0, 0, 0, 0, -1, 1700000000.5, {}, -1};
  (*list)[1].stats->Publish(down);
  (*list)[1].stats->AddSendError(SendError::kNoBuffer);
  (*list)[1].stats->AddSendError(SendError::kNoBuffer);
  store.Replace(list);
  return store;
}

std::string Scrape(const ResultStore& store, Format format = Format::kText) {
  std::string out;
  WriteTargetFamilies(store, format, [&out](std::string_view piece) { out.append(piece); });
  return out;
}

TEST(TextWriterTest, WritesEveryFamilyOnceAndSeriesPerTarget) {
  ResultStore store;
  const std::string out = Scrape(StoreOf(store, Options(Profile::kFull)));
  EXPECT_EQ(Count(out, "# TYPE ping_up gauge"), 1u);
  EXPECT_EQ(Count(out, "# TYPE ping_rtt_seconds histogram"), 1u);
  EXPECT_NE(out.find("ping_up{target=\"127.0.0.1\",address=\"127.0.0.1\",site=\"lab\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("ping_up{target=\"::1\",address=\"::1\",site=\"lab\"} 0\n"),
            std::string::npos);
  EXPECT_NE(
      out.find("ping_status{target=\"::1\",address=\"::1\",site=\"lab\",status=\"no_response\"} 1"),
      std::string::npos);
  EXPECT_NE(out.find("ping_loss_ratio{target=\"::1\",address=\"::1\",site=\"lab\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("ping_rtt_seconds_bucket{target=\"127.0.0.1\",address=\"127.0.0.1\",site="
                     "\"lab\",le=\"0.001\"} 1"),
            std::string::npos);
  EXPECT_NE(out.find("le=\"+Inf\"} 2"), std::string::npos);
  EXPECT_NE(out.find("stat=\"avg\"} 0.0012"), std::string::npos);
  // No replies: the round statistics are absent, neither NaN nor 0.
  EXPECT_EQ(out.find("ping_round_rtt_seconds{target=\"::1\""), std::string::npos);
  EXPECT_EQ(out.find("NaN"), std::string::npos);
  EXPECT_NE(out.find("ping_reply_ttl{target=\"127.0.0.1\""), std::string::npos);
  EXPECT_EQ(out.find("ping_reply_ttl{target=\"::1\""), std::string::npos);
  // Jitter only where it is known (two replies), never a made-up zero.
  EXPECT_NE(out.find("ping_jitter_seconds{target=\"127.0.0.1\",address=\"127.0.0.1\",site="
                     "\"lab\"} 0.0125\n"),
            std::string::npos);
  EXPECT_EQ(out.find("ping_jitter_seconds{target=\"::1\""), std::string::npos);
  // The target without a round has no series yet.
  EXPECT_EQ(out.find("pending"), std::string::npos);
  // The series budget: the one reason that happened, for the one target it happened to.
  EXPECT_EQ(Count(out, "reason=\""), 1u);
  EXPECT_NE(out.find("ping_send_errors_total{target=\"::1\",address=\"::1\",site=\"lab\","
                     "reason=\"no_buffer\"} 2\n"),
            std::string::npos);
}

TEST(TextWriterTest, ProfilesNestAndSelectFamilies) {
  size_t last = 0;
  for (Profile p : {Profile::kMinimal, Profile::kDefault, Profile::kFull}) {
    ResultStore store;
    const std::string out = Scrape(StoreOf(store, Options(p)));
    size_t families = 0;
    for (const Family* f : kAllFamilies) {
      if (f->scope != Scope::kTarget) continue;
      const bool in = f->profile <= p;
      EXPECT_EQ(Count(out, "# TYPE " + std::string(f->name) + " "), in ? 1u : 0u)
          << f->name << " in " << ProfileName(p);
      families += in;
    }
    EXPECT_GT(families, last) << ProfileName(p) << " holds the profile before it and more";
    last = families;
  }
}

TEST(TextWriterTest, AnomalyCountersAppearOnceTheyCountBelowFull) {
  for (Profile p : {Profile::kDefault, Profile::kFull}) {
    ResultStore store;
    StoreOf(store, Options(p));
    store.Current()->at(1).stats->AddLate();
    const std::string out = Scrape(store);
    // "::1" had a late reply, "127.0.0.1" none: its zero is left out below full.
    EXPECT_NE(out.find("ping_late_replies_total{target=\"::1\",address=\"::1\",site=\"lab\"} 1\n"),
              std::string::npos)
        << ProfileName(p);
    const size_t zeros = p == Profile::kFull ? 1 : 0;
    EXPECT_EQ(Count(out, "ping_late_replies_total{target=\"127.0.0.1\""), zeros) << ProfileName(p);
    EXPECT_EQ(Count(out, "ping_duplicate_replies_total{"), 2 * zeros) << ProfileName(p);
    EXPECT_EQ(Count(out, "# TYPE ping_duplicate_replies_total counter\n"), 1u) << ProfileName(p);
  }
}

TEST(TextWriterTest, NativeOnlyHistogramKeepsSumAndCountInText) {
  ResultStore store;
  const std::string out = Scrape(StoreOf(store, Options(Profile::kDefault, RttHistogram::kNative)));
  const std::string labels = "{target=\"127.0.0.1\",address=\"127.0.0.1\",site=\"lab\"";
  EXPECT_NE(out.find("ping_rtt_seconds_bucket" + labels + ",le=\"+Inf\"} 2\n"), std::string::npos)
      << out;
  EXPECT_EQ(Count(out, "ping_rtt_seconds_bucket{"), 2u);  // +Inf only, one a target
  EXPECT_NE(out.find("ping_rtt_seconds_count" + labels + "} 2\n"), std::string::npos);
  EXPECT_NE(out.find("ping_rtt_seconds_sum" + labels + "} 0.0024"), std::string::npos);
}

TEST(TextWriterTest, OpenMetricsNamesCountersByFamilyAndStatesUnits) {
  ResultStore store;
  const std::string out = Scrape(StoreOf(store, Options(Profile::kFull)), Format::kOpenMetrics);
  EXPECT_NE(out.find("# TYPE ping_packets_sent counter\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# HELP ping_packets_sent "), std::string::npos);
  EXPECT_NE(out.find("ping_packets_sent_total{target=\"127.0.0.1\""), std::string::npos);
  EXPECT_NE(out.find("# TYPE ping_rtt_seconds histogram\n# UNIT ping_rtt_seconds seconds\n"),
            std::string::npos);
  EXPECT_NE(out.find("# UNIT ping_loss_ratio ratio\n"), std::string::npos);
  // A state set stays a gauge: its label is `status` in every format.
  EXPECT_NE(out.find("# TYPE ping_status gauge\n"), std::string::npos);
  EXPECT_EQ(out.find("_total counter"), std::string::npos);
  // Every UNIT is a suffix of its family's name, as OpenMetrics requires.
  for (const Family* f : kAllFamilies) {
    if (!f->unit.empty()) {
      EXPECT_TRUE(f->open_metrics_name().ends_with(f->unit)) << f->name;
    }
  }
}

TargetRow Row(const TargetInfo& info, uint32_t sent, uint32_t received, int32_t ttl) {
  static const std::shared_ptr<const SeriesOptions> kFull = Options(Profile::kFull);
  TargetRow row{&info, kFull.get(), {}};
  row.snap.has_round = true;
  row.snap.round_sent = sent;
  row.snap.round_received = received;
  row.snap.reply_ttl = ttl;
  row.snap.buckets.assign(3, 0);  // two bounds and +Inf
  return row;
}

std::string Write(std::span<const TargetRow> rows, RowFamilies which) {
  std::string out;
  WriteTargetRowsText(rows, which, Format::kText,
                      [&out](std::string_view piece) { out.append(piece); });
  return out;
}

TEST(TextWriterTest, EveryTargetFamilyOfTheTableInTableOrder) {
  TargetInfo info{"127.0.0.1", "127.0.0.1", "", {}, ""};
  info.label_text = RenderLabels(info);
  const TargetRow rows[] = {Row(info, 2, 2, 64)};
  for (RowFamilies which : {RowFamilies::kAll, RowFamilies::kRound}) {
    const std::string out = Write(rows, which);
    size_t last = 0;
    for (const Family* f : kAllFamilies) {
      const std::string type =
          "# TYPE " + std::string(f->name) + " " + std::string(TextTypeName(f->type)) + "\n";
      const bool wanted = f->scope == Scope::kTarget && (which == RowFamilies::kAll || f->round);
      EXPECT_EQ(Count(out, type), wanted ? 1u : 0u) << f->name;
      if (!wanted) continue;
      const size_t at = out.find(type);
      EXPECT_GT(at, last) << f->name << " out of table order";
      last = at;
      EXPECT_EQ(Count(out, "# HELP " + std::string(f->name) + " " + std::string(f->help) + "\n"),
                1u);
    }
  }
}

TEST(TextWriterTest, RoundFamiliesLeaveOutFamiliesWithoutSamples) {
  TargetInfo info{"127.0.0.1", "127.0.0.1", "", {}, ""};
  info.label_text = RenderLabels(info);
  const TargetRow silent[] = {Row(info, 2, 0, -1)};
  std::string out = Write(silent, RowFamilies::kRound);
  EXPECT_EQ(out.find("ping_reply_ttl"), std::string::npos) << out;
  EXPECT_NE(
      out.find(
          "ping_status{target=\"127.0.0.1\",address=\"127.0.0.1\",status=\"no_response\"} 1\n"),
      std::string::npos)
      << out;
  // A scrape keeps the header of a family no target has a sample of yet.
  out = Write(silent, RowFamilies::kAll);
  EXPECT_NE(out.find("# TYPE ping_reply_ttl gauge\n"), std::string::npos);
  EXPECT_EQ(out.find("ping_reply_ttl{"), std::string::npos);
  // No rows: a /probe answer has no per-target family at all; a scrape has the header of every
  // family of the widest profile in use, and none without targets.
  EXPECT_EQ(Write({}, RowFamilies::kRound), "");
  EXPECT_EQ(Write({}, RowFamilies::kAll), "");
  for (Profile p : {Profile::kMinimal, Profile::kFull}) {
    std::string out;
    WriteTargetRowsText(
        {}, RowFamilies::kAll, Format::kText, [&out](std::string_view piece) { out.append(piece); },
        p);
    const auto in = std::count_if(kAllFamilies.begin(), kAllFamilies.end(), [p](const Family* f) {
      return f->scope == Scope::kTarget && f->profile <= p;
    });
    EXPECT_EQ(Count(out, "# TYPE "), static_cast<size_t>(in)) << ProfileName(p);
  }
}

TEST(TextWriterTest, LabelTextsNearTheLineRoomKeepEveryValue) {
  // Label texts of about 1 KB overran the room reserved per line, and at some buffer offsets
  // the '\n' after a value went one byte past the buffer: the sanitizer build of this suite
  // reports a heap-buffer-overflow here without the fix. Every line must keep its value too.
  SeriesOptions options;
  options.rtt_buckets = {0.001, 0.1};
  options.profile = Profile::kFull;
  const std::vector<double>& bounds = options.rtt_buckets;
  for (size_t len = 960; len <= 1010; ++len) {
    SCOPED_TRACE(len);
    std::vector<TargetInfo> infos(100);
    std::vector<TargetRow> rows;
    for (size_t i = 0; i < infos.size(); ++i) {
      infos[i].label_text =
          "target=\"t" + std::to_string(i) + "\",x=\"" + std::string(len, 'v') + "\"";
      TargetRow r;
      r.info = &infos[i];
      r.options = &options;
      r.snap.has_round = true;
      r.snap.round_sent = 3;
      r.snap.round_received = 2;
      // Long values: 23 and 20 characters.
      r.snap.rtt_min = r.snap.rtt_avg = r.snap.rtt_max = -1.2345678901234567e-300;
      r.snap.buckets.assign(bounds.size() + 1, UINT64_MAX);
      r.snap.sent_total = r.snap.received_total = UINT64_MAX;
      rows.push_back(r);
    }
    std::string out;
    WriteTargetRowsText(rows, RowFamilies::kAll, Format::kText,
                        [&](std::string_view s) { out += s; });
    size_t samples = 0;
    for (size_t start = 0; start < out.size();) {
      size_t end = out.find('\n', start);
      ASSERT_NE(end, std::string::npos);
      std::string_view line(out.data() + start, end - start);
      start = end + 1;
      if (line[0] == '#') continue;
      ++samples;
      size_t space = line.rfind("} ");
      ASSERT_NE(space, std::string_view::npos) << line.substr(0, 40);
      ASSERT_GT(line.size(), space + 2) << "no value: " << line.substr(0, 40);
    }
    EXPECT_GT(samples, 100u * 20);
  }
}

TEST(TextWriterTest, ProcessFamiliesPresent) {
  FamilyWriter writer(Format::kText);
  WriteProcessFamilies(writer);
  const std::string out = writer.Finish();
  for (const char* name :
       {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
        "process_start_time_seconds ", "process_max_fds "}) {
    EXPECT_NE(out.find(std::string("\n") + name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace ping_exporter::metrics
