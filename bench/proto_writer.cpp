// The protobuf exposition two ways, at 10 000 and 100 000 targets: the
// exporter's direct writer (metrics/proto_writer.cpp) against messages built
// with the code protoc generates from client_model's metrics.proto and
// serialized by libprotobuf (with and without an arena). Same rows, same walk
// (metrics/target_rows.h), so the bytes must be equal; prints time per
// scrape, heap allocations and bytes.
//
//   cmake -S . -B build -DPING_EXPORTER_BENCH=ON && cmake --build build --target proto_writer_bench
//   build/bench/proto_writer_bench [targets...]

#include <google/protobuf/arena.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <metrics.pb.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "metrics/proto_writer.h"
#include "metrics/target_rows.h"

namespace {

// Every heap allocation of the process, so each encoder's count can be read around it.
std::atomic<uint64_t> g_allocations{0};

}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace ping_exporter::metrics {
namespace {

namespace pb = io::prometheus::client;

pb::MetricType ProtoType(MetricType t) {
  return t == MetricType::kCounter ? pb::COUNTER
                                   : (t == MetricType::kHistogram ? pb::HISTOGRAM : pb::GAUGE);
}

void AddLabel(pb::Metric* m, std::string_view name, std::string_view value) {
  pb::LabelPair* l = m->add_label();
  l->set_name(std::string(name));
  l->set_value(std::string(value));
}

// Native buckets as spans and deltas, laid out as the direct writer does.
void SetNative(pb::Histogram* h, const NativeSnapshot& n, detail::NativeLayout& layout) {
  h->set_schema(n.schema);
  h->set_zero_threshold(n.zero_threshold);
  h->set_zero_count(n.zero_count);
  layout.Build(n);
  for (const detail::Span& s : layout.spans()) {
    pb::BucketSpan* span = h->add_positive_span();
    span->set_offset(s.offset);
    span->set_length(s.length);
  }
  for (int64_t d : layout.deltas()) h->add_positive_delta(d);
}

// Builds each family as a generated MetricFamily, then serializes it delimited.
class GeneratedVisitor {
 public:
  GeneratedVisitor(std::string* out, google::protobuf::Arena* arena) : out_(out), arena_(arena) {}

  template <typename Samples>
  void Visit(const Family& f, std::span<const std::string_view> label_values, Samples&& samples) {
    pb::MetricFamily* family = google::protobuf::Arena::CreateMessage<pb::MetricFamily>(arena_);
    family->set_name(std::string(f.name));
    family->set_help(std::string(f.help));
    family->set_type(ProtoType(f.type));
    samples([&](const TargetRow& r, size_t label, const detail::RowValue& v) {
      pb::Metric* m = family->add_metric();
      AddLabel(m, "target", r.info->name);
      AddLabel(m, "address", r.info->address);
      for (const auto& [name, value] : r.info->labels) AddLabel(m, name, value);
      if (!label_values.empty()) AddLabel(m, f.labels[0], label_values[label]);
      if (f.type == MetricType::kHistogram) {
        pb::Histogram* h = m->mutable_histogram();
        h->set_sample_count(r.snap.rtt_count);
        h->set_sample_sum(r.snap.rtt_sum);
        if (r.options->classic_in_protobuf()) {
          for (size_t i = 0; i < r.options->rtt_buckets.size(); ++i) {
            pb::Bucket* b = h->add_bucket();
            b->set_cumulative_count(r.snap.buckets[i]);
            b->set_upper_bound(r.options->rtt_buckets[i]);
          }
        }
        if (r.options->native()) SetNative(h, r.snap.native, layout_);
      } else if (f.type == MetricType::kCounter) {
        m->mutable_counter()->set_value(v.number());
      } else {
        m->mutable_gauge()->set_value(v.number());
      }
    });
    if (family->metric_size() > 0) {
      google::protobuf::io::StringOutputStream stream(out_);
      google::protobuf::util::SerializeDelimitedToZeroCopyStream(*family, &stream);
    }
    if (arena_ == nullptr) delete family;
  }

 private:
  std::string* out_;
  google::protobuf::Arena* arena_;
  detail::NativeLayout layout_;
};

struct Fixture {
  ResultStore store;
  CollectedRows rows;

  Fixture(size_t targets, RttHistogram mode, Profile profile) {
    SeriesOptions o;
    o.rtt_histogram = mode;
    o.rtt_buckets = {0.0001, 0.00018, 0.00032, 0.00056, 0.001, 0.0018, 0.0032, 0.0056, 0.01, 0.018,
                     0.032, 0.056, 0.1, 0.18, 0.32, 0.56, 1, 1.8, 3.2, 5.6, 10};
    o.profile = profile;
    auto options = std::make_shared<const SeriesOptions>(std::move(o));
    auto list = std::make_shared<ResultStore::TargetList>();
    for (size_t i = 0; i < targets; ++i) {
      std::string ip = "127." + std::to_string(1 + i / 65536 % 250) + "." +
                       std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
      TargetEntry e = TargetEntry::Make(TargetInfo{ip, ip, "bench", {{"site", "lab"}}, ""}, options);
      // A minute of 1 s rounds of two replies, spread around 5 ms.
      for (int round = 0; round < 60; ++round) {
        std::vector<double> rtts = {0.004 + 0.00001 * static_cast<double>((i + round) % 200),
                                    0.005 + 0.00003 * static_cast<double>((i * 7 + round) % 100)};
        e.stats->Publish(PublishedRound{2, 2, rtts[0], 0.0047, rtts[1], 0.0004, 64,
                                        1.7e9 + round, rtts});
      }
      list->push_back(std::move(e));
    }
    store.Replace(list);
    rows = CollectRows(store);
  }
};

struct Result {
  double ms = 0;
  uint64_t allocations = 0;
  size_t bytes = 0;
  std::string out;
};

template <typename Encode>
Result Measure(Encode&& encode, int repeats) {
  Result best;
  for (int i = 0; i < repeats; ++i) {
    std::string out;
    out.reserve(64 << 20);  // the sink's own growth is not the encoder's cost
    const uint64_t before = g_allocations.load();
    const auto t0 = std::chrono::steady_clock::now();
    encode(&out);
    const auto t1 = std::chrono::steady_clock::now();
    const double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    if (i == 0 || ms < best.ms) {
      best.ms = ms;
      best.allocations = g_allocations.load() - before;
      best.bytes = out.size();
      best.out = std::move(out);
    }
  }
  return best;
}

void Run(size_t targets, RttHistogram mode, Profile profile) {
  Fixture f(targets, mode, profile);
  const int repeats = targets > 50000 ? 3 : 5;
  Result direct = Measure(
      [&](std::string* out) {
        WriteTargetRowsProto(f.rows.rows, RowFamilies::kAll,
                             [out](std::string_view piece) { out->append(piece); });
      },
      repeats);
  Result generated = Measure(
      [&](std::string* out) {
        GeneratedVisitor v(out, nullptr);
        detail::WalkTargetFamilies(f.rows.rows, RowFamilies::kAll, v);
      },
      repeats);
  Result arena = Measure(
      [&](std::string* out) {
        google::protobuf::Arena a;
        GeneratedVisitor v(out, &a);
        detail::WalkTargetFamilies(f.rows.rows, RowFamilies::kAll, v);
      },
      repeats);
  const bool same = direct.out == generated.out && direct.out == arena.out;
  std::printf("%7zu targets, rtt_histogram=%s, metrics=%s: %.1f MB, identical bytes: %s\n",
              targets, std::string(RttHistogramName(mode)).c_str(),
              std::string(ProfileName(profile)).c_str(), static_cast<double>(direct.bytes) / 1e6,
              same ? "yes" : "NO");
  for (const auto& [name, r] : {std::pair<const char*, const Result&>{"direct", direct},
                                {"generated", generated},
                                {"generated+arena", arena}}) {
    std::printf("  %-16s %8.1f ms  %9llu allocations\n", name, r.ms,
                static_cast<unsigned long long>(r.allocations));
  }
}

}  // namespace
}  // namespace ping_exporter::metrics

int main(int argc, char** argv) {
  using namespace ping_exporter::metrics;
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {10000, 100000};
  for (size_t n : sizes) {
    Run(n, RttHistogram::kNative, Profile::kDefault);
    Run(n, RttHistogram::kBoth, Profile::kDefault);
    Run(n, RttHistogram::kBoth, Profile::kFull);
  }
  return 0;
}
