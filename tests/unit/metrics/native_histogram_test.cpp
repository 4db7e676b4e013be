#include "metrics/native_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace ping_exporter::metrics {
namespace {

TEST(NativeHistogramTest, SchemaIsTheFinestWithinTheFactor) {
  EXPECT_EQ(SchemaForFactor(1.1), 3);  // 2^(1/8) = 1.0905
  EXPECT_EQ(SchemaForFactor(1.2), 2);  // 2^(1/4) = 1.1892
  EXPECT_EQ(SchemaForFactor(2), 0);
  EXPECT_EQ(SchemaForFactor(4), -1);
  EXPECT_EQ(SchemaForFactor(1.0001), kMaxNativeSchema);
  EXPECT_EQ(SchemaForFactor(1e9), kMinNativeSchema);
  for (int s = kMinNativeSchema; s <= kMaxNativeSchema; ++s) {
    EXPECT_LE(SchemaFactor(SchemaForFactor(1.1)), 1.1);
    EXPECT_EQ(SchemaForFactor(SchemaFactor(s) * 1.000001), s) << s;
  }
}

TEST(NativeHistogramTest, IndexPutsValuesBetweenTheirBucketBounds) {
  for (int s = kMinNativeSchema; s <= kMaxNativeSchema; ++s) {
    for (double v = 1e-6; v < 100; v *= 1.0137) {
      const int32_t i = NativeBucketIndex(v, s);
      EXPECT_LE(v, NativeBucketUpperBound(i, s) * (1 + 1e-12)) << v << " schema " << s;
      EXPECT_GT(v, NativeBucketUpperBound(i - 1, s) * (1 - 1e-12)) << v << " schema " << s;
    }
    // Upper bounds are inclusive: a power of two ends its bucket.
    EXPECT_EQ(NativeBucketIndex(1, s), 0) << s;
    EXPECT_EQ(NativeBucketIndex(0.25, s), s >= 0 ? -2 * (1 << s) : (s == -1 ? -1 : 0)) << s;
  }
  EXPECT_EQ(NativeBucketIndex(2, 0), 1);
  EXPECT_EQ(NativeBucketIndex(2, 3), 8);
  EXPECT_EQ(NativeBucketIndex(0.005, 3), -61);  // (2^(-62/8), 2^(-61/8)] = (4.65 ms, 5.05 ms]
  EXPECT_EQ(NativeBucketIndex(0.05, 3), -34);   // (46.0 ms, 50.1 ms]
}

// Counts by bucket index, as Read() reports them.
std::map<int32_t, uint64_t> Buckets(const NativeSnapshot& s) {
  std::map<int32_t, uint64_t> out;
  for (size_t i = 0; i < s.counts.size(); ++i) {
    if (s.counts[i] > 0) out[s.first_index + static_cast<int32_t>(i)] = s.counts[i];
  }
  return out;
}

TEST(NativeHistogramTest, CountsEachObservationInItsBucket) {
  NativeBuckets b(3, 1e-6);
  const std::vector<double> values = {0.0049, 0.005, 0.0051, 0.02, 0.02, 0.0000005, 0};
  for (double v : values) b.Observe(v);
  NativeSnapshot s;
  b.Read(&s);
  EXPECT_EQ(s.schema, 3);
  EXPECT_EQ(s.zero_threshold, 1e-6);
  EXPECT_EQ(s.zero_count, 2u);  // 0.5 µs and 0 are within the zero bucket
  std::map<int32_t, uint64_t> want;
  for (double v : values) {
    if (v > 1e-6) ++want[NativeBucketIndex(v, 3)];
  }
  EXPECT_EQ(Buckets(s), want);
  EXPECT_LE(s.counts.size(), static_cast<size_t>(kNativeBucketLimit));
}

TEST(NativeHistogramTest, WideSpreadLowersTheSchemaAndKeepsEveryCount) {
  NativeBuckets b(8, 1e-6);
  std::vector<double> values;
  for (double v = 2e-5; v < 30; v *= 1.7) values.push_back(v);  // ~20 octaves
  for (double v : values) b.Observe(v);
  NativeSnapshot s;
  b.Read(&s);
  // 20 octaves in 64 buckets: 2 buckets an octave (schema 1) at most.
  EXPECT_LE(s.schema, 1);
  EXPECT_GE(s.schema, 0);
  EXPECT_LE(s.counts.size(), static_cast<size_t>(kNativeBucketLimit));
  // Every observation sits where a fresh histogram at the final schema would put it.
  std::map<int32_t, uint64_t> want;
  for (double v : values) ++want[NativeBucketIndex(v, s.schema)];
  EXPECT_EQ(Buckets(s), want);
}

TEST(NativeHistogramTest, WindowFollowsAShiftWithoutLosingResolution) {
  NativeBuckets b(3, 1e-6);
  b.Observe(0.001);
  b.Observe(0.1);  // 6.6 octaves = 54 buckets at schema 3: still fits
  NativeSnapshot s;
  b.Read(&s);
  EXPECT_EQ(s.schema, 3);
  EXPECT_EQ(Buckets(s), (std::map<int32_t, uint64_t>{{NativeBucketIndex(0.001, 3), 1},
                                                     {NativeBucketIndex(0.1, 3), 1}}));
  b.Observe(1.0);  // 10 octaves: schema 2
  b.Read(&s);
  EXPECT_EQ(s.schema, 2);
}

TEST(NativeHistogramTest, ExtremeValuesStayInsideTheWindow) {
  NativeBuckets b(8, 1e-9);
  for (double v : {2e-9, 1e300, 1e-3, double{INFINITY}}) b.Observe(v);
  NativeSnapshot s;
  b.Read(&s);
  uint64_t total = s.zero_count;
  for (uint64_t c : s.counts) total += c;
  EXPECT_EQ(total, 4u);
  EXPECT_LE(s.counts.size(), static_cast<size_t>(kNativeBucketLimit));
  EXPECT_GE(s.schema, kMinNativeSchema);
}

}  // namespace
}  // namespace ping_exporter::metrics
