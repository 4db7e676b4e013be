#include "metrics/proto_writer.h"

#include <string>
#include <vector>

#include "metrics/proto_wire.h"

namespace ping_exporter::metrics {
namespace {

using detail::NativeLayout;
using detail::OutBuffer;
using detail::Span;
namespace field = wire::field;
using wire::LengthFieldSize;
using wire::Tag;
using wire::VarintSize;
using wire::ZigZag;

uint32_t ProtoType(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return wire::kCounterType;
    case MetricType::kHistogram:
      return wire::kHistogramType;
    case MetricType::kGauge:
    case MetricType::kStateSet:
      break;
  }
  return wire::kGaugeType;
}

/// Each row's identity labels as Metric.label fields, encoded once per scrape.
class RowLabels {
 public:
  explicit RowLabels(std::span<const TargetRow> rows) : rows_(rows) {
    offsets_.reserve(rows.size() + 1);
    for (const TargetRow& r : rows) {
      offsets_.push_back(bytes_.size());
      ForEachLabel(*r.info, [&](std::string_view name, std::string_view value) {
        wire::AppendLabel(&bytes_, name, value);
      });
    }
    offsets_.push_back(bytes_.size());
  }
  std::string_view Of(const TargetRow& r) const {
    const auto i = static_cast<size_t>(&r - rows_.data());
    return std::string_view(bytes_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
  }

 private:
  std::span<const TargetRow> rows_;
  std::string bytes_;
  std::vector<size_t> offsets_;
};

size_t BucketBodySize(uint64_t cumulative) {
  return 1 + VarintSize(cumulative) + wire::kDoubleFieldSize;
}
size_t SpanBodySize(const Span& s) {
  return 1 + VarintSize(ZigZag(s.offset)) + 1 + VarintSize(s.length);
}

// Encodes the walk (target_rows.h) as delimited MetricFamily messages.
class ProtoVisitor {
 public:
  ProtoVisitor(OutBuffer& b, std::span<const TargetRow> rows) : b_(b), labels_(rows) {}

  template <typename Samples>
  void Visit(const Family& f, std::span<const std::string_view> label_values, Samples&& samples) {
    std::vector<std::string> extra(label_values.size());
    for (size_t i = 0; i < label_values.size(); ++i) {
      wire::AppendLabel(&extra[i], f.labels[0], label_values[i]);
    }
    const bool histogram = f.type == MetricType::kHistogram;
    // A histogram's size comes from its layout (HistogramSize() builds layout_).
    auto value_size = [&](const TargetRow& r) {
      return histogram ? LengthFieldSize(HistogramSize(r)) : wire::kValueFieldSize;
    };
    auto metric_size = [&](const TargetRow& r, size_t label, size_t value) {
      return labels_.Of(r).size() + (extra.empty() ? 0 : extra[label].size()) + value;
    };
    size_t body = 0;
    samples([&](const TargetRow& r, size_t label, const detail::RowValue&) {
      body += LengthFieldSize(metric_size(r, label, value_size(r)));
    });
    if (body == 0) return;  // no samples: Prometheus wants none of an empty family
    std::string head;
    detail::AppendProtoFamilyHeader(&head, f);
    b_.Room(10);
    b_.PutVarint(head.size() + body);
    b_.Put(head);
    const uint32_t value_field = detail::ProtoValueField(f.type);
    samples([&](const TargetRow& r, size_t label, const detail::RowValue& v) {
      // Once a row: a histogram's layout stays built for WriteHistogram() below.
      const size_t histogram_size = histogram ? HistogramSize(r) : 0;
      const size_t value =
          histogram ? LengthFieldSize(histogram_size) : size_t{wire::kValueFieldSize};
      b_.Room(1 + 10);
      b_.Put(static_cast<char>(Tag(field::kFamilyMetric, wire::kLength)));
      b_.PutVarint(metric_size(r, label, value));
      // Labels are not bounded: put checked. The value is (a histogram has at most
      // kMaxRttBuckets classic and kNativeBucketLimit native buckets), and goes unchecked.
      b_.Put(labels_.Of(r));
      if (!extra.empty()) b_.Put(extra[label]);
      b_.Room(value);
      if (histogram) {
        WriteHistogram(r, histogram_size);
      } else {
        b_.Put(static_cast<char>(Tag(value_field, wire::kLength)));
        b_.Put(static_cast<char>(wire::kDoubleFieldSize));
        b_.Put(static_cast<char>(Tag(field::kValue, wire::kFixed64)));
        b_.PutFixed64(v.number());
      }
    });
  }

 private:
  size_t HistogramSize(const TargetRow& r) {
    const TargetSnapshot& s = r.snap;
    size_t n = 1 + VarintSize(s.rtt_count) + wire::kDoubleFieldSize;
    const SeriesOptions& o = *r.options;
    if (o.classic_in_protobuf()) {
      for (size_t i = 0; i < o.rtt_buckets.size() && i < s.buckets.size(); ++i) {
        n += LengthFieldSize(BucketBodySize(s.buckets[i]));
      }
    }
    if (o.native()) {
      layout_.Build(s.native);
      n += 1 + VarintSize(ZigZag(s.native.schema)) + wire::kDoubleFieldSize + 1 +
           VarintSize(s.native.zero_count);
      for (const Span& span : layout_.spans()) n += LengthFieldSize(SpanBodySize(span));
      for (int64_t d : layout_.deltas()) n += 1 + VarintSize(ZigZag(d));
    }
    return n;
  }

  // Metric.histogram of `size` bytes, with layout_ built for `r` (HistogramSize()); the
  // caller reserved room for the whole metric.
  void WriteHistogram(const TargetRow& r, size_t size) {
    const TargetSnapshot& s = r.snap;
    const SeriesOptions& o = *r.options;
    b_.Put(static_cast<char>(Tag(field::kMetricHistogram, wire::kLength)));
    b_.PutVarint(size);
    b_.Put(static_cast<char>(Tag(field::kHistCount, wire::kVarint)));
    b_.PutVarint(s.rtt_count);
    b_.Put(static_cast<char>(Tag(field::kHistSum, wire::kFixed64)));
    b_.PutFixed64(s.rtt_sum);
    if (o.classic_in_protobuf()) {
      for (size_t i = 0; i < o.rtt_buckets.size() && i < s.buckets.size(); ++i) {
        b_.Put(static_cast<char>(Tag(field::kHistBucket, wire::kLength)));
        b_.PutVarint(BucketBodySize(s.buckets[i]));
        b_.Put(static_cast<char>(Tag(field::kBucketCumulativeCount, wire::kVarint)));
        b_.PutVarint(s.buckets[i]);
        b_.Put(static_cast<char>(Tag(field::kBucketUpperBound, wire::kFixed64)));
        b_.PutFixed64(o.rtt_buckets[i]);
      }
    }
    if (o.native()) {
      b_.Put(static_cast<char>(Tag(field::kHistSchema, wire::kVarint)));
      b_.PutVarint(ZigZag(s.native.schema));
      b_.Put(static_cast<char>(Tag(field::kHistZeroThreshold, wire::kFixed64)));
      b_.PutFixed64(s.native.zero_threshold);
      b_.Put(static_cast<char>(Tag(field::kHistZeroCount, wire::kVarint)));
      b_.PutVarint(s.native.zero_count);
      for (const Span& span : layout_.spans()) {
        b_.Put(static_cast<char>(Tag(field::kHistPositiveSpan, wire::kLength)));
        b_.PutVarint(SpanBodySize(span));
        b_.Put(static_cast<char>(Tag(field::kSpanOffset, wire::kVarint)));
        b_.PutVarint(ZigZag(span.offset));
        b_.Put(static_cast<char>(Tag(field::kSpanLength, wire::kVarint)));
        b_.PutVarint(span.length);
      }
      for (int64_t d : layout_.deltas()) {
        b_.Put(static_cast<char>(Tag(field::kHistPositiveDelta, wire::kVarint)));
        b_.PutVarint(ZigZag(d));
      }
    }
  }

  OutBuffer& b_;
  RowLabels labels_;
  NativeLayout layout_;
};

}  // namespace

namespace detail {

void NativeLayout::Build(const NativeSnapshot& n) {
  spans_.clear();
  deltas_.clear();
  int64_t previous = 0;
  int32_t end = 0;  // index after the last bucket written
  for (size_t i = 0; i < n.counts.size(); ++i) {
    if (n.counts[i] == 0) continue;
    const int32_t index = n.first_index + static_cast<int32_t>(i);
    const int32_t gap = spans_.empty() ? index : index - end;
    if (!spans_.empty() && gap <= 2) {
      for (int32_t k = 0; k < gap; ++k) {  // the empty buckets between, kept
        deltas_.push_back(-previous);
        previous = 0;
      }
      spans_.back().length += static_cast<uint32_t>(gap);
    } else {
      spans_.push_back({gap, 0});
    }
    const auto count = static_cast<int64_t>(n.counts[i]);
    deltas_.push_back(count - previous);
    previous = count;
    ++spans_.back().length;
    end = index + 1;
  }
}

void AppendProtoFamilyHeader(std::string* out, const Family& family) {
  wire::AppendBytesField(out, field::kFamilyName, family.name);
  wire::AppendBytesField(out, field::kFamilyHelp, family.help);
  out->push_back(static_cast<char>(Tag(field::kFamilyType, wire::kVarint)));
  wire::AppendVarint(out, ProtoType(family.type));
}

uint32_t ProtoValueField(MetricType type) {
  return type == MetricType::kCounter ? field::kMetricCounter : field::kMetricGauge;
}

}  // namespace detail

void WriteTargetRowsProto(std::span<const TargetRow> rows, RowFamilies which, const Sink& sink) {
  OutBuffer b(sink);
  ProtoVisitor visitor(b, rows);
  detail::WalkTargetFamilies(rows, which, visitor);
}

}  // namespace ping_exporter::metrics
