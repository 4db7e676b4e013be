#include "common/text.h"

#include <cstdint>

namespace ping_exporter {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Length of the well-formed UTF-8 sequence at the start of `s` (1..4), or 0 if none starts
// there. ASCII counts as a sequence of one.
size_t Utf8SequenceLength(std::string_view s) {
  unsigned char b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  size_t n = b0 >= 0xC2 && b0 <= 0xDF   ? 2
             : b0 >= 0xE0 && b0 <= 0xEF ? 3
             : b0 >= 0xF0 && b0 <= 0xF4 ? 4
                                        : 0;
  if (n == 0 || n > s.size()) return 0;
  unsigned char b1 = static_cast<unsigned char>(s[1]);
  // Overlong three- and four-byte forms, UTF-16 surrogates, and beyond U+10FFFF.
  if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0) || (b0 == 0xF0 && b1 < 0x90) ||
      (b0 == 0xF4 && b1 >= 0x90)) {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

void AppendHex(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

}  // namespace

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool IsValidUtf8(std::string_view s) {
  while (!s.empty()) {
    size_t n = Utf8SequenceLength(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

std::string Escaped(std::string_view s) {
  std::string out;
  out.reserve(s.size() < kMaxShownChars ? s.size() : kMaxShownChars);
  for (size_t shown = 0; !s.empty(); ++shown) {
    if (shown == kMaxShownChars) return out + "...";
    size_t n = Utf8SequenceLength(s);
    unsigned char c = static_cast<unsigned char>(s[0]);
    // C1 controls (U+0080..U+009F) are encoded as 0xC2 0x80..0x9F.
    bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(s[1]) < 0xA0;
    if (n == 0 || c < 0x20 || c == 0x7F || c1) {
      // One escaped byte counts as one character; a C1 control shows both of its bytes.
      size_t bytes = c1 ? 2 : 1;
      for (size_t k = 0; k < bytes; ++k) AppendHex(out, static_cast<unsigned char>(s[k]));
      s.remove_prefix(bytes);
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out.append(s.data(), n);
    s.remove_prefix(n);
  }
  return out;
}

std::string Quote(std::string_view s) { return "\"" + Escaped(s) + "\""; }

}  // namespace ping_exporter
