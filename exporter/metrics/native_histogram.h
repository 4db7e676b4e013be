#pragma once
// Sparse exponential ("native") histogram buckets as Prometheus defines them:
// at schema s the bucket with index i holds the observations in
// (2^((i-1)/2^s), 2^(i/2^s)], and a zero bucket holds those <= a threshold.
// The state here is a fixed window of kNativeBucketLimit counters per target,
// so observing never allocates; a target whose observations spread wider than
// the window halves its resolution (schema - 1) until they fit.

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace ping_exporter::metrics {

/// Prometheus's schema range: -4 (factor 65536) .. 8 (factor 2^(1/256)).
inline constexpr int kMinNativeSchema = -4;
inline constexpr int kMaxNativeSchema = 8;
/// Buckets one target keeps. 64 buckets span a factor of 256 at schema 3 (e.g. 1 ms to 256 ms)
/// and 65 536 at schema 2; wider spreads lower the resolution, never the memory (512 bytes).
inline constexpr int kNativeBucketLimit = 64;

/// The largest schema whose bucket growth factor 2^(2^-s) is at most `factor` (> 1), clamped
/// to [kMinNativeSchema, kMaxNativeSchema]: 1.1 gives 3 (factor 1.0905), 2 gives 0.
int SchemaForFactor(double factor);
/// The growth factor between adjacent buckets at `schema`: 2^(2^-schema).
double SchemaFactor(int schema);
/// The index of the bucket holding `v` (> 0) at `schema`.
int32_t NativeBucketIndex(double v, int schema);
/// The inclusive upper bound of bucket `index` at `schema`.
double NativeBucketUpperBound(int32_t index, int schema);

/// One consistent copy of a target's native buckets.
struct NativeSnapshot {
  int schema = 0;
  double zero_threshold = 0;
  uint64_t zero_count = 0;
  int32_t first_index = 0;       ///< bucket index of counts[0]
  std::vector<uint64_t> counts;  ///< per bucket (not cumulative), first_index onwards
};

/// A target's native buckets. Observe() is for the one writer and must run
/// inside the caller's sequence-lock write section (TargetStats::Publish); Read()
/// may run on any thread and must be retried by the caller when the sequence
/// changed. Every field is atomic, so a torn read is discarded, never a data
/// race. Not copyable.
class NativeBuckets {
 public:
  NativeBuckets(int schema, double zero_threshold);
  NativeBuckets(const NativeBuckets&) = delete;
  NativeBuckets& operator=(const NativeBuckets&) = delete;

  /// Counts one observation (>= 0). Never allocates.
  void Observe(double v);
  /// Copies the state into `out`; sizes out->counts to the used range.
  void Read(NativeSnapshot* out) const;

 private:
  using Counter = std::atomic<uint64_t>;
  static uint64_t Get(const Counter& c) { return c.load(std::memory_order_relaxed); }
  static void Set(Counter& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }
  /// Moves the window (and lowers the schema if needed) so that bucket `index` fits; returns
  /// that bucket's index at the schema it leaves.
  int32_t Reshape(int32_t index);

  double zero_threshold_;
  std::atomic<int32_t> schema_;
  std::atomic<int32_t> lo_{0};        // bucket index of counts_[0]
  std::atomic<int32_t> used_min_{1};  // used index range; min > max: no bucket used yet
  std::atomic<int32_t> used_max_{0};
  Counter zero_count_{0};
  std::array<Counter, kNativeBucketLimit> counts_{};
};

}  // namespace ping_exporter::metrics
