#include "common/text.h"

#include <gtest/gtest.h>

#include <string>

namespace ping_exporter {
namespace {

TEST(TextTest, TrimDropsSpacesAndTabsAtBothEnds) {
  EXPECT_EQ(Trim(" \t gzip ;q=1\t "), "gzip ;q=1");
  EXPECT_EQ(Trim(" \t "), "");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim("\na\n"), "\na\n");  // only blanks, not line breaks
}

TEST(TextTest, ValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // UTF-16 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("a\x80"));             // stray continuation byte
}

TEST(TextTest, QuoteLeavesOrdinaryInputAlone) {
  EXPECT_EQ(Quote("127.0.0.1"), "\"127.0.0.1\"");
  EXPECT_EQ(Quote(""), "\"\"");
  EXPECT_EQ(Quote("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(Escaped("localhost"), "localhost");
}

TEST(TextTest, QuoteEscapesQuotesControlsAndInvalidUtf8) {
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote(std::string("a\0b\n\x7f", 5)), "\"a\\x00b\\x0a\\x7f\"");
  EXPECT_EQ(Quote("\xff\xC3"), "\"\\xff\\xc3\"");
  EXPECT_EQ(Quote("\xC2\x9B"), "\"\\xc2\\x9b\"");  // C1 control CSI
  EXPECT_EQ(Quote(std::string("127.0.0.13\0\xff", 12)), "\"127.0.0.13\\x00\\xff\"");
}

TEST(TextTest, QuoteShowsAtMost80Characters) {
  std::string exact(kMaxShownChars, 'a');
  EXPECT_EQ(Quote(exact), "\"" + exact + "\"");
  EXPECT_EQ(Quote(exact + "b"), "\"" + exact + "...\"");
  // 50 MB of input gives a short message.
  EXPECT_EQ(Escaped(std::string(50u << 20, 'x')), std::string(kMaxShownChars, 'x') + "...");
  // Characters, not bytes: multi-byte UTF-8 is never cut in the middle.
  std::string euros;
  for (size_t i = 0; i < kMaxShownChars + 5; ++i) euros += "\xE2\x82\xAC";
  EXPECT_EQ(Escaped(euros), euros.substr(0, 3 * kMaxShownChars) + "...");
  // An escaped byte counts as one character.
  EXPECT_EQ(Escaped(std::string(kMaxShownChars + 1, '\x01')).size(), 4 * kMaxShownChars + 3);
}

TEST(TextTest, UnprintableReasonNamesTheFirstOffender) {
  EXPECT_EQ(UnprintableReason(""), std::nullopt);
  EXPECT_EQ(UnprintableReason("caf\xC3\xA9 \"x\" \\ \xF0\x9F\x98\x80"), std::nullopt);
  EXPECT_EQ(UnprintableReason(std::string("127.0.0.13\0\xff", 12)), "NUL byte at offset 10");
  EXPECT_EQ(UnprintableReason("ab\xff\x01"), "invalid UTF-8 at offset 2");
  EXPECT_EQ(UnprintableReason("a\tb"), "control character \\x09 at offset 1");
  EXPECT_EQ(UnprintableReason("line\n"), "control character \\x0a at offset 4");
  EXPECT_EQ(UnprintableReason("\x7f"), "control character \\x7f at offset 0");
  EXPECT_EQ(UnprintableReason("\xC3\xA9\xC2\x85"), "control character \\xc2\\x85 at offset 2");
  EXPECT_EQ(UnprintableReason("\xED\xA0\x80"), "invalid UTF-8 at offset 0");  // a surrogate
  // Linear: a 16 MiB clean value, then a bad byte at its end.
  std::string big(16u << 20, 'v');
  big += '\x01';
  EXPECT_EQ(UnprintableReason(big),
            "control character \\x01 at offset " + std::to_string(16u << 20));
}

}  // namespace
}  // namespace ping_exporter
