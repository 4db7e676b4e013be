#include "metrics/native_histogram.h"

#include <algorithm>
#include <cmath>

namespace ping_exporter::metrics {
namespace {

// Observations are clamped to (kMinZeroThreshold, kMaxObservation]: 62 octaves, which fit the
// window at schema 0, so lowering the schema always ends with the observation inside it.
constexpr double kMinZeroThreshold = 1e-9;
constexpr double kMaxObservation = 4294967296.0;  // 2^32 s

// Bucket i at schema s is buckets 2i-1 and 2i at schema s+1: the index at s-1 is ceil(i/2).
constexpr int32_t Halve(int32_t index) { return (index + 1) >> 1; }

}  // namespace

int SchemaForFactor(double factor) {
  if (!(factor > 1)) return kMaxNativeSchema;
  // 2^(2^-s) <= factor  <=>  s >= -log2(log2(factor)).
  double s = std::ceil(-std::log2(std::log2(factor)));
  return static_cast<int>(std::clamp(s, double{kMinNativeSchema}, double{kMaxNativeSchema}));
}

double SchemaFactor(int schema) { return std::exp2(std::exp2(-schema)); }

int32_t NativeBucketIndex(double v, int schema) {
  int exp = 0;
  const double frac = std::frexp(v, &exp);  // v = frac * 2^exp, frac in [0.5, 1)
  if (schema > 0) {
    // log2(v) = (exp - 1) + log2(2 frac), the latter in [0, 1): exact at powers of two.
    const int32_t per_octave = int32_t{1} << schema;
    const auto within = static_cast<int32_t>(std::ceil(std::log2(2 * frac) * per_octave));
    return (exp - 1) * per_octave + within;
  }
  // Coarse schemas: ceil(log2(v) / 2^-schema), with log2(v) rounded up to a whole octave.
  const int32_t octave = frac == 0.5 ? exp - 1 : exp;
  const int32_t width = int32_t{1} << -schema;
  return octave >= 0 ? (octave + width - 1) / width : -((-octave) / width);
}

double NativeBucketUpperBound(int32_t index, int schema) {
  return std::exp2(std::ldexp(static_cast<double>(index), -schema));
}

NativeBuckets::NativeBuckets(int schema, double zero_threshold)
    : zero_threshold_(std::max(zero_threshold, kMinZeroThreshold)),
      schema_(std::clamp(schema, kMinNativeSchema, kMaxNativeSchema)) {}

void NativeBuckets::Observe(double v) {
  if (!(v > zero_threshold_)) {  // NaN too: counted, never indexed
    Set(zero_count_, Get(zero_count_) + 1);
    return;
  }
  v = std::min(v, kMaxObservation);
  int32_t index = NativeBucketIndex(v, schema_.load(std::memory_order_relaxed));
  const int32_t lo = lo_.load(std::memory_order_relaxed);
  const int32_t min = used_min_.load(std::memory_order_relaxed);
  const int32_t max = used_max_.load(std::memory_order_relaxed);
  if (min > max || index < lo || index >= lo + kNativeBucketLimit) {
    index = Reshape(index);
  } else {
    used_min_.store(std::min(min, index), std::memory_order_relaxed);
    used_max_.store(std::max(max, index), std::memory_order_relaxed);
  }
  Counter& c = counts_[static_cast<size_t>(index - lo_.load(std::memory_order_relaxed))];
  Set(c, Get(c) + 1);
}

int32_t NativeBuckets::Reshape(int32_t index) {
  const int32_t lo = lo_.load(std::memory_order_relaxed);
  const int32_t min = used_min_.load(std::memory_order_relaxed);
  const int32_t max = used_max_.load(std::memory_order_relaxed);
  const bool empty = min > max;
  int32_t new_min = empty ? index : std::min(min, index);
  int32_t new_max = empty ? index : std::max(max, index);
  int schema = schema_.load(std::memory_order_relaxed);
  int halvings = 0;
  // Ends by schema 0 at the latest: 62 octaves of clamped observations fit 64 buckets there.
  while (new_max - new_min + 1 > kNativeBucketLimit && schema > kMinNativeSchema) {
    new_min = Halve(new_min);
    new_max = Halve(new_max);
    index = Halve(index);
    --schema;
    ++halvings;
  }
  // Centre the used range, so the window has room on both sides for what comes next.
  const int32_t new_lo = new_min - (kNativeBucketLimit - (new_max - new_min + 1)) / 2;
  std::array<uint64_t, kNativeBucketLimit> moved{};
  for (int32_t i = min; i <= max; ++i) {  // none when empty
    int32_t j = i;
    for (int h = 0; h < halvings; ++h) j = Halve(j);
    moved[static_cast<size_t>(j - new_lo)] += Get(counts_[static_cast<size_t>(i - lo)]);
  }
  for (size_t k = 0; k < moved.size(); ++k) Set(counts_[k], moved[k]);
  schema_.store(schema, std::memory_order_relaxed);
  lo_.store(new_lo, std::memory_order_relaxed);
  // The range includes the new observation's bucket, which Observe() then counts.
  used_min_.store(new_min, std::memory_order_relaxed);
  used_max_.store(new_max, std::memory_order_relaxed);
  return index;
}

void NativeBuckets::Read(NativeSnapshot* out) const {
  out->schema = schema_.load(std::memory_order_relaxed);
  out->zero_threshold = zero_threshold_;
  out->zero_count = Get(zero_count_);
  const int32_t lo = lo_.load(std::memory_order_relaxed);
  // Clamped to the window: a read that overlaps Reshape() may see mixed fields, and is
  // retried by the caller, but must not index outside the array meanwhile.
  const int32_t min = std::max(used_min_.load(std::memory_order_relaxed), lo);
  const int32_t max =
      std::min(used_max_.load(std::memory_order_relaxed), lo + kNativeBucketLimit - 1);
  out->first_index = min;
  out->counts.clear();
  for (int32_t i = min; i <= max; ++i)
    out->counts.push_back(Get(counts_[static_cast<size_t>(i - lo)]));
}

}  // namespace ping_exporter::metrics
