#include "common/duration.h"

#include <gtest/gtest.h>

namespace ping_exporter {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(DurationTest, ParsesUnitsAndCompounds) {
  EXPECT_EQ(ParseDuration("1s"), Duration(seconds(1)));
  EXPECT_EQ(ParseDuration("250ms"), Duration(milliseconds(250)));
  EXPECT_EQ(ParseDuration("1m30s"), Duration(seconds(90)));
  EXPECT_EQ(ParseDuration("1.5s"), Duration(milliseconds(1500)));
  EXPECT_EQ(ParseDuration("2h"), Duration(seconds(7200)));
  EXPECT_EQ(ParseDuration("10us"), Duration(std::chrono::microseconds(10)));
  EXPECT_EQ(ParseDuration("0s"), Duration(0));
}

TEST(DurationTest, RejectsGarbage) {
  for (const char* bad :
       {"", "1", "s", "abc", "1 s", "-1s", "1x", "1.s5", "99999999999999999999h"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(DurationTest, LargeFractionsDoNotOverflow) {
  // Found by fuzzing: the fraction times a large unit overflowed int64.
  EXPECT_EQ(ParseDuration("1.5h"), Duration(std::chrono::minutes(90)));
  EXPECT_EQ(ParseDuration("0.999999999d"), Duration(86'399'999'913'600));
  EXPECT_TRUE(ParseDuration("1.3256207h46m16s854ms").has_value());
  EXPECT_FALSE(ParseDuration("106752d").has_value());
  EXPECT_FALSE(ParseDuration("106751.9999d").has_value());
  EXPECT_EQ(FormatDuration(Duration::min()).front(), '-');
}

TEST(DurationTest, FormatsShortest) {
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(seconds(2)), "2s");
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(ParseDuration(FormatDuration(Duration(123456789))), Duration(123456789));
}

}  // namespace
}  // namespace ping_exporter
