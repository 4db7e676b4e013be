#include "targets/json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ping_exporter::targets::json {
namespace {

using doc::Kind;
using doc::ParseError;
using doc::ReadResult;

/// Writes each event as text: "[@1:1", "]", "s:text@1:2" (kinds by their first letter),
/// and stops after `stop_after` events.
class Recorder final : public doc::Sink {
 public:
  explicit Recorder(size_t stop_after = SIZE_MAX) : stop_after_(stop_after) {}
  bool Begin(Kind kind, doc::Position at) override {
    return Add((kind == Kind::kList ? "[" : "{") + Where(at));
  }
  bool End() override { return Add("end"); }
  bool Scalar(Kind kind, std::string_view text, doc::Position at) override {
    return Add(std::string(1, doc::KindName(kind)[0]) + ":" + std::string(text) + Where(at));
  }
  std::vector<std::string> events;

 private:
  static std::string Where(doc::Position at) {
    return "@" + std::to_string(at.line) + ":" + std::to_string(at.column);
  }
  bool Add(std::string e) {
    events.push_back(std::move(e));
    return events.size() < stop_after_;
  }
  size_t stop_after_;
};

TEST(JsonTest, StreamsEveryKindWithPositions) {
  Recorder r;
  ReadResult read = Parse(
      "{\"a\": [1, -2.5e+3, 0, true, false, null],\n"
      "  \"b\": {\"c\": \"d\"}, \"\": \"\"}",
      r);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_TRUE(*read);
  EXPECT_EQ(r.events, (std::vector<std::string>{
                          "{@1:1", "s:a@1:2", "[@1:7", "n:1@1:8", "n:-2.5e+3@1:11", "n:0@1:20",
                          "b:true@1:23", "b:false@1:29", "n:@1:36", "end", "s:b@2:3", "{@2:8",
                          "s:c@2:9", "s:d@2:14", "end", "s:@2:20", "s:@2:24", "end"}));
}

TEST(JsonTest, DecodesEscapesToUtf8) {
  Recorder r;
  ReadResult read = Parse(R"(["\"\\\/\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "caf)"
                          "\xC3\xA9"
                          R"("])",
                          r);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(r.events, (std::vector<std::string>{
                          "[@1:1", "s:\"\\/\b\f\n\r\t@1:2", "s:\xC3\xA9\xE2\x82\xAC@1:22",
                          "s:\xF0\x9F\x98\x80@1:38", "s:caf\xC3\xA9@1:54", "end"}));
}

TEST(JsonTest, AcceptsByteOrderMarkAndAllJsonWhitespace) {
  Recorder r;
  ReadResult read = Parse("\xEF\xBB\xBF \t\r\n[ 1 ,\t2 ]\r\n", r);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(r.events, (std::vector<std::string>{"[@2:1", "n:1@2:3", "n:2@2:7", "end"}));
}

TEST(JsonTest, StopsWhenTheSinkSaysSo) {
  Recorder r(2);
  // What follows the second event is never looked at, broken or not.
  ReadResult read = Parse("[1, 2, this is not JSON", r);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_FALSE(*read);
  EXPECT_EQ(r.events, (std::vector<std::string>{"[@1:1", "n:1@1:2"}));
}

TEST(JsonTest, RejectsWhatJsonDoesNotAllow) {
  struct Case {
    const char* text;
    const char* message;
    uint32_t line;
    uint32_t column;
  };
  const Case kCases[] = {
      {"", "expected a JSON value, got end of file", 1, 1},
      {"[1,]", "trailing ',' before ']'", 1, 4},
      {"{\"a\":1,}", "trailing ',' before '}'", 1, 8},
      {"['a']", "expected a JSON value, got '''", 1, 2},
      {"{a: 1}", "expected a quoted key, got 'a'", 1, 2},
      {"[01]", "expected ',' or ']' in array, got '1'", 1, 3},
      {"[1.]", "expected a digit after '.'", 1, 4},
      {"[1e]", "expected an exponent", 1, 4},
      {"[-]", "expected a digit", 1, 3},
      {"[+1]", "expected a JSON value, got '+'", 1, 2},
      {"[tru]", "expected a JSON value", 1, 2},
      {"[\"a\nb\"]", "control character in string", 1, 4},
      {"[\"\\x\"]", "invalid escape \\x in string", 1, 4},
      {"[\"\\u12\"]", "invalid \\u escape: expected four hex digits", 1, 5},
      {"[\"\\ud800\"]", "lone surrogate", 1, 9},
      {"[\"\\udc00\"]", "lone surrogate", 1, 9},
      {"[\"\xff\"]", "invalid UTF-8 in string", 1, 3},
      {"[\"\xC0\xAF\"]", "invalid UTF-8 in string", 1, 3},          // overlong '/'
      {"[\"\xED\xA0\x80\"]", "invalid UTF-8 in string", 1, 3},      // encoded surrogate
      {"[\"\xF4\x90\x80\x80\"]", "invalid UTF-8 in string", 1, 3},  // above U+10FFFF
      {"[\"abc", "unterminated string", 1, 6},
      {"[1] [2]", "unexpected '[' after the JSON value", 1, 5},
      {"[1]\n\nx", "unexpected 'x' after the JSON value", 3, 1},
      {"{\"a\" 1}", "expected ':' after key, got '1'", 1, 6},
      {"{\"a\": 1 \"b\": 2}", "expected ',' or '}' in object, got '\"'", 1, 9},
      {"[1 2]", "expected ',' or ']' in array, got '2'", 1, 4},
      {"[\x01]", "expected a JSON value, got byte 0x01", 1, 2},
      {"// c\n[]", "expected a JSON value, got '/'", 1, 1},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    Recorder sink;
    ReadResult r = Parse(c.text, sink);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().position.line, c.line);
    EXPECT_EQ(r.error().position.column, c.column);
  }
}

TEST(JsonTest, DeepNestingIsRefusedNotRecursedInto) {
  std::string ok(64, '[');
  ok += std::string(64, ']');
  Recorder sink;
  EXPECT_TRUE(Parse(ok, sink).has_value());
  std::string deep(100000, '[');
  ReadResult r = Parse(deep, sink);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("nested deeper than 64"), std::string::npos);
}

TEST(JsonTest, KindNames) {
  EXPECT_EQ(doc::KindName(Kind::kNull), "null");
  EXPECT_EQ(doc::KindName(Kind::kBool), "boolean");
  EXPECT_EQ(doc::KindName(Kind::kNumber), "number");
  EXPECT_EQ(doc::KindName(Kind::kString), "string");
  EXPECT_EQ(doc::KindName(Kind::kList), "array");
  EXPECT_EQ(doc::KindName(Kind::kMap), "object");
}

}  // namespace
}  // namespace ping_exporter::targets::json
