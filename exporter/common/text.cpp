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

// Bytes of the control character (C0, DEL, or C1 as 0xC2 0x80..0x9F) at the start of `s`,
// whose valid sequence is `n` bytes long; 0 if it starts with none.
size_t ControlLength(std::string_view s, size_t n) {
  unsigned char c = static_cast<unsigned char>(s[0]);
  if (c < 0x20 || c == 0x7F) return 1;
  return n == 2 && c == 0xC2 && static_cast<unsigned char>(s[1]) < 0xA0 ? 2 : 0;
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

std::string Escaped(std::string_view s, size_t max_chars) {
  std::string out;
  out.reserve(s.size() < max_chars ? s.size() : max_chars);
  for (size_t shown = 0; !s.empty(); ++shown) {
    if (shown == max_chars) return out + "...";
    size_t n = Utf8SequenceLength(s);
    size_t control = n == 0 ? 0 : ControlLength(s, n);
    if (n == 0 || control != 0) {
      // One escaped byte counts as one character; a C1 control shows both of its bytes.
      size_t bytes = n == 0 ? 1 : control;
      for (size_t k = 0; k < bytes; ++k) AppendHex(out, static_cast<unsigned char>(s[k]));
      s.remove_prefix(bytes);
      continue;
    }
    if (s[0] == '"' || s[0] == '\\') out += '\\';
    out.append(s.data(), n);
    s.remove_prefix(n);
  }
  return out;
}

std::string Quote(std::string_view s) {
  // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on "\"" + std::string.
  std::string out = "\"";
  out += Escaped(s);
  out += '"';
  return out;
}

std::optional<std::string> UnprintableReason(std::string_view s) {
  for (size_t offset = 0; offset < s.size();) {
    std::string_view rest = s.substr(offset);
    size_t n = Utf8SequenceLength(rest);
    size_t control = n == 0 ? 0 : ControlLength(rest, n);
    if (n != 0 && control == 0) {
      offset += n;
      continue;
    }
    std::string what = "invalid UTF-8";
    if (n != 0 && rest[0] == '\0') {
      what = "NUL byte";
    } else if (n != 0) {
      what = "control character ";
      for (size_t k = 0; k < control; ++k) AppendHex(what, static_cast<unsigned char>(rest[k]));
    }
    return what + " at offset " + std::to_string(offset);
  }
  return std::nullopt;
}

}  // namespace ping_exporter
