#include "targets/json.h"

#include <gtest/gtest.h>

#include <string>

namespace ping_exporter::targets::json {
namespace {

using Kind = Value::Kind;

TEST(JsonTest, ParsesEveryKindWithPositions) {
  Expected<Value, ParseError> r = Parse(
      "{\"a\": [1, -2.5e+3, 0, true, false, null],\n"
      "  \"b\": {\"c\": \"d\"}, \"\": \"\"}");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const Value& v = *r;
  ASSERT_EQ(v.kind, Kind::kObject);
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[0].key, "a");
  EXPECT_EQ(v.members[0].key_position.line, 1u);
  EXPECT_EQ(v.members[0].key_position.column, 2u);
  const Value& a = v.members[0].value;
  ASSERT_EQ(a.kind, Kind::kArray);
  ASSERT_EQ(a.items.size(), 6u);
  EXPECT_EQ(a.items[0].kind, Kind::kNumber);
  EXPECT_EQ(a.items[0].text, "1");
  EXPECT_EQ(a.items[1].text, "-2.5e+3");
  EXPECT_EQ(a.items[1].position.column, 11u);
  EXPECT_EQ(a.items[3].kind, Kind::kBool);
  EXPECT_TRUE(a.items[3].boolean);
  EXPECT_FALSE(a.items[4].boolean);
  EXPECT_EQ(a.items[5].kind, Kind::kNull);
  EXPECT_EQ(v.members[1].key_position.line, 2u);
  EXPECT_EQ(v.members[1].key_position.column, 3u);
  EXPECT_EQ(v.members[1].value.members[0].value.text, "d");
  EXPECT_EQ(v.members[2].key, "");
}

TEST(JsonTest, DecodesEscapesToUtf8) {
  Expected<Value, ParseError> r =
      Parse(R"(["\"\\\/\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "caf)"
            "\xC3\xA9"
            R"("])");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->items[0].text, "\"\\/\b\f\n\r\t");
  EXPECT_EQ(r->items[1].text, "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(r->items[2].text, "\xF0\x9F\x98\x80");
  EXPECT_EQ(r->items[3].text, "caf\xC3\xA9");
}

TEST(JsonTest, AcceptsByteOrderMarkAndAllJsonWhitespace) {
  Expected<Value, ParseError> r = Parse("\xEF\xBB\xBF \t\r\n[ 1 ,\t2 ]\r\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->items.size(), 2u);
  EXPECT_EQ(r->position.line, 2u);
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
    Expected<Value, ParseError> r = Parse(c.text);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().position.line, c.line);
    EXPECT_EQ(r.error().position.column, c.column);
  }
}

TEST(JsonTest, DeepNestingIsRefusedNotRecursedInto) {
  std::string ok(64, '[');
  ok += std::string(64, ']');
  EXPECT_TRUE(Parse(ok).has_value());
  std::string deep(100000, '[');
  Expected<Value, ParseError> r = Parse(deep);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("nested deeper than 64"), std::string::npos);
}

TEST(JsonTest, KindNames) {
  EXPECT_EQ(KindName(Kind::kNull), "null");
  EXPECT_EQ(KindName(Kind::kBool), "boolean");
  EXPECT_EQ(KindName(Kind::kNumber), "number");
  EXPECT_EQ(KindName(Kind::kString), "string");
  EXPECT_EQ(KindName(Kind::kArray), "array");
  EXPECT_EQ(KindName(Kind::kObject), "object");
}

}  // namespace
}  // namespace ping_exporter::targets::json
