#pragma once
// The protobuf exposition: length-delimited io.prometheus.client.MetricFamily
// messages (client_model metrics.proto, with native histograms), encoded
// directly from snapshots like the text writer: O(series), streamed, one
// allocation per family rather than one per message (bench/proto_writer.cpp
// measures it against libprotobuf's generated code).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "metrics/out_buffer.h"
#include "metrics/target_rows.h"

namespace ping_exporter::metrics {

/// Writes the per-target families for `rows` as delimited MetricFamily
/// messages, in table order; a family without samples is left out. The RTT
/// histogram carries the native buckets, or the classic ones (without +Inf)
/// with rtt_histogram "classic". Reads only.
void WriteTargetRowsProto(std::span<const TargetRow> rows, RowFamilies which, const Sink& sink);

namespace detail {

/// A BucketSpan: a run of consecutive native buckets.
struct Span {
  int32_t offset;  ///< gap to the previous span, or the first bucket's index
  uint32_t length;
};

/// Native buckets as Histogram.positive_span and positive_delta lay them out.
/// Runs of up to two empty buckets stay inside a span (cheaper than a new
/// span). Reuse one object across rows: Build() keeps the vectors' capacity.
class NativeLayout {
 public:
  void Build(const NativeSnapshot& n);
  const std::vector<Span>& spans() const { return spans_; }
  const std::vector<int64_t>& deltas() const { return deltas_; }

 private:
  std::vector<Span> spans_;
  std::vector<int64_t> deltas_;
};

/// Appends a MetricFamily's name, help and type fields for `family`.
void AppendProtoFamilyHeader(std::string* out, const Family& family);
/// The Metric field holding a sample of a counter or gauge of `type`: Metric.counter or
/// Metric.gauge (state sets are gauges).
uint32_t ProtoValueField(MetricType type);
}  // namespace detail

}  // namespace ping_exporter::metrics
