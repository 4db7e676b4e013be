#include "common/log.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ping_exporter {
namespace {

TEST(LogTest, LogfmtQuotesAndFiltersByLevel) {
  std::ostringstream out;
  Logger log(out, LogLevel::kInfo, LogFormat::kLogfmt);
  log.Debug("hidden");
  log.Info("state changed", {{"target", "a b"}, {"to", "down"}});
  std::string line = out.str();
  EXPECT_EQ(line.find("hidden"), std::string::npos);
  EXPECT_NE(line.find("level=info"), std::string::npos);
  EXPECT_NE(line.find("msg=\"state changed\""), std::string::npos);
  EXPECT_NE(line.find("target=\"a b\""), std::string::npos);
  EXPECT_NE(line.find("to=down"), std::string::npos);
}

TEST(LogTest, JsonEscapes) {
  std::ostringstream out;
  Logger log(out, LogLevel::kDebug, LogFormat::kJson);
  log.Warn("x", {{"k", "quote\" and \n newline"}});
  std::string line = out.str();
  EXPECT_EQ(line.front(), '{');
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos);
  EXPECT_NE(line.find("quote\\\" and \\n newline"), std::string::npos);
}

TEST(LogTest, ParsesNames) {
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("verbose").has_value());
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").has_value());
}

}  // namespace
}  // namespace ping_exporter
