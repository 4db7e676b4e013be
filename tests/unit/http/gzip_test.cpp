#include "http/gzip.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "test_util.h"

namespace ping_exporter::http {
namespace {

TEST(GzipTest, RoundTripsThroughInflate) {
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "ping_rtt_seconds_bucket{le=\"0.001\"} " + std::to_string(i) + "\n";
  for (int level : {1, 3, 9}) {
    Expected<std::string, std::string> z = GzipCompress(text, level);
    ASSERT_TRUE(z.has_value()) << z.error();
    ASSERT_GE(z->size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // gzip magic
    EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
    EXPECT_LT(z->size(), text.size() / 5);
    std::optional<std::string> back = testing::Gunzip(*z);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, text);
  }
}

TEST(GzipTest, RoundTripsEmptyAndIncompressible) {
  Expected<std::string, std::string> empty = GzipCompress("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(testing::Gunzip(*empty), std::optional<std::string>(""));

  std::mt19937 rng(42);
  std::string noise(300000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  Expected<std::string, std::string> z = GzipCompress(noise, 1);
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(testing::Gunzip(*z), std::optional<std::string>(noise));
}

TEST(GzipTest, AcceptEncodingNegotiation) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("GZIP"));
  EXPECT_TRUE(AcceptsGzip("deflate, gzip;q=1.0, *;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.8"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip(" gzip ; q=0.001 "));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));  // explicit refusal beats the wildcard
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzipx"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=2"));  // malformed weight: do not guess
  EXPECT_FALSE(AcceptsGzip("gzip;q=abc"));
}

}  // namespace
}  // namespace ping_exporter::http
