#pragma once
// The few pieces of the protobuf wire format the exposition needs, for the
// client_model messages (metrics.proto of golang-github-prometheus-client-model-dev)
// written directly: field numbers, tags, varint sizes. Internal to metrics/.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ping_exporter::metrics::wire {

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLength = 2 };
constexpr uint8_t Tag(uint32_t field, WireType type) {
  return static_cast<uint8_t>(field << 3 | type);
}

// Field numbers of io.prometheus.client messages (all fit a one-byte tag).
namespace field {
inline constexpr uint32_t kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilyMetric = 4;
inline constexpr uint32_t kMetricLabel = 1, kMetricGauge = 2, kMetricCounter = 3,
                          kMetricHistogram = 7;
inline constexpr uint32_t kLabelName = 1, kLabelValue = 2;
inline constexpr uint32_t kValue = 1;  // Gauge.value, Counter.value
inline constexpr uint32_t kHistCount = 1, kHistSum = 2, kHistBucket = 3, kHistSchema = 5,
                          kHistZeroThreshold = 6, kHistZeroCount = 7, kHistPositiveSpan = 12,
                          kHistPositiveDelta = 13;
inline constexpr uint32_t kBucketCumulativeCount = 1, kBucketUpperBound = 2;
inline constexpr uint32_t kSpanOffset = 1, kSpanLength = 2;
}  // namespace field

// MetricType values.
inline constexpr uint32_t kCounterType = 0, kGaugeType = 1, kHistogramType = 4;

constexpr size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
constexpr uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
/// A length-delimited field of `n` payload bytes, tag included.
constexpr size_t LengthFieldSize(size_t n) { return 1 + VarintSize(n) + n; }
/// A double field (fixed64), tag included.
inline constexpr size_t kDoubleFieldSize = 9;
/// Metric.gauge or Metric.counter holding one value: tag, length, the value's field.
inline constexpr size_t kValueFieldSize = LengthFieldSize(kDoubleFieldSize);

/// Writes `v` as a base-128 varint at `p` (at most 10 bytes); returns the end.
inline char* EncodeVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
/// Writes `v` as a little-endian fixed64 at `p` (8 bytes); returns the end.
inline char* EncodeFixed64(char* p, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(bits >> (8 * i));
  return p;
}

inline void AppendVarint(std::string* out, uint64_t v) {
  char bytes[10];
  out->append(bytes, EncodeVarint(bytes, v));
}
inline void AppendDouble(std::string* out, double v) {
  char bytes[8];
  out->append(bytes, EncodeFixed64(bytes, v));
}
inline void AppendBytesField(std::string* out, uint32_t field, std::string_view bytes) {
  out->push_back(static_cast<char>(Tag(field, kLength)));
  AppendVarint(out, bytes.size());
  out->append(bytes);
}
/// One LabelPair as a Metric.label field.
inline void AppendLabel(std::string* out, std::string_view name, std::string_view value) {
  out->push_back(static_cast<char>(Tag(field::kMetricLabel, kLength)));
  AppendVarint(out, LengthFieldSize(name.size()) + LengthFieldSize(value.size()));
  AppendBytesField(out, field::kLabelName, name);
  AppendBytesField(out, field::kLabelValue, value);
}
/// Metric.gauge or Metric.counter (`field`) holding `value`.
inline void AppendValue(std::string* out, uint32_t field, double value) {
  out->push_back(static_cast<char>(Tag(field, kLength)));
  out->push_back(static_cast<char>(kDoubleFieldSize));
  out->push_back(static_cast<char>(Tag(field::kValue, kFixed64)));
  AppendDouble(out, value);
}

}  // namespace ping_exporter::metrics::wire
