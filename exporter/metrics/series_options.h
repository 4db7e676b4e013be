#pragma once
// What one group's targets record and expose: which RTT histogram(s), their
// buckets, and which per-target families (a profile). One immutable object per
// group, shared by its targets' TargetStats.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "metrics/families.h"
#include "metrics/native_histogram.h"

namespace ping_exporter::metrics {

/// Which buckets the RTT histogram (family::kRtt) has (config key `rtt_histogram`).
enum class RttHistogram : uint8_t {
  kNative,   ///< sparse exponential buckets (protobuf); text formats get only _sum/_count
  kClassic,  ///< the fixed `rtt_buckets` bounds, every format
  kBoth,     ///< classic buckets in the text formats, native ones in protobuf
};
/// "native", "classic", "both": the config's words.
constexpr std::string_view RttHistogramName(RttHistogram h) {
  switch (h) {
    case RttHistogram::kNative:
      return "native";
    case RttHistogram::kClassic:
      return "classic";
    case RttHistogram::kBoth:
      break;
  }
  return "both";
}

/// Classic bounds a group may have: keeps one histogram's encoding within a writer's buffer.
inline constexpr size_t kMaxRttBuckets = 1000;

/// The defaults, also those of the config keys.
inline constexpr double kDefaultNativeBucketFactor = 1.1;    ///< schema 3, factor 1.0905
inline constexpr double kDefaultNativeZeroThreshold = 1e-6;  ///< 1 µs: below any real round trip

/// Immutable once built; thread-safe to read.
struct SeriesOptions {
  RttHistogram rtt_histogram = RttHistogram::kBoth;
  std::vector<double> rtt_buckets;  ///< classic upper bounds, strictly increasing (+Inf implied)
  int native_schema = SchemaForFactor(kDefaultNativeBucketFactor);
  double native_zero_threshold = kDefaultNativeZeroThreshold;
  Profile profile = Profile::kDefault;

  /// Whether targets keep classic buckets (the text formats write them).
  bool classic() const { return rtt_histogram != RttHistogram::kNative; }
  /// Whether targets keep native buckets (protobuf writes them).
  bool native() const { return rtt_histogram != RttHistogram::kClassic; }
  /// Whether protobuf carries the classic buckets: only without native ones, since a
  /// Prometheus that asks for protobuf keeps the native histogram and drops the classic one
  /// (2.42; later ones only with scrape_classic_histograms), and 21 buckets a target are most
  /// of the message.
  bool classic_in_protobuf() const { return rtt_histogram == RttHistogram::kClassic; }
  /// Whether targets with these options expose `family` (Scope::kTarget) on /metrics.
  bool Exposes(const Family& family) const { return family.profile <= profile; }
  bool operator==(const SeriesOptions&) const = default;
};

}  // namespace ping_exporter::metrics
