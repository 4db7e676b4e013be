#include "targets/json.h"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace ping_exporter::targets::json {
namespace {

// file_sd needs three levels (list, group, labels); the limit only stops stack exhaustion.
constexpr int kMaxDepth = 64;

using doc::Kind;
using doc::ParseError;
using doc::Position;

/// Recursive-descent parser over one buffer. Single use; not thread-safe.
class Parser {
 public:
  Parser(std::string_view text, doc::Sink& sink) : text_(text), sink_(sink) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  doc::ReadResult Run() {
    SkipSpace();
    if (!ParseValue(0)) {
      if (stopped_) return false;
      return MakeUnexpected(std::move(error_));
    }
    SkipSpace();
    if (pos_ != text_.size()) {
      Fail("unexpected " + Describe() + " after the JSON value");
      return MakeUnexpected(std::move(error_));
    }
    return true;
  }

 private:
  // Passes a sink's answer on; false stops the parse without an error of ours.
  bool Sent(bool go_on) {
    if (!go_on) stopped_ = true;
    return go_on;
  }

  bool SendScalar(Kind kind, std::string_view text, Position at) {
    return Sent(sink_.Scalar(kind, text, at));
  }

  Position Here() const { return Position{line_, static_cast<uint32_t>(pos_ - line_start_ + 1)}; }

  bool Fail(std::string message) {
    if (error_.message.empty()) error_ = ParseError{Here(), std::move(message)};
    return false;
  }

  std::string Describe() const {
    if (pos_ >= text_.size()) return "end of file";
    unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
  }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++pos_;
        ++line_;
        line_start_ = pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ParseValue(int depth) {
    Position at = Here();
    if (pos_ >= text_.size()) return Fail("expected a JSON value, got end of file");
    char c = text_[pos_];
    switch (c) {
      case '{':
        return ParseObject(at, depth + 1);
      case '[':
        return ParseArray(at, depth + 1);
      case '"':
        buffer_.clear();
        return ParseString(buffer_) && SendScalar(Kind::kString, buffer_, at);
      case 't':
        return ParseLiteral("true") && SendScalar(Kind::kBool, "true", at);
      case 'f':
        return ParseLiteral("false") && SendScalar(Kind::kBool, "false", at);
      case 'n':
        return ParseLiteral("null") && SendScalar(Kind::kNull, "", at);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(at);
        return Fail("expected a JSON value, got " + Describe());
    }
  }

  bool ParseLiteral(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return Fail("expected a JSON value, got " + Describe());
    }
    pos_ += word.size();
    return true;
  }

  bool Digits() {
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool ParseNumber(Position at) {
    size_t start = pos_;
    Consume('-');
    if (Consume('0')) {
      // No leading zeros: "01" is not JSON.
    } else if (!Digits()) {
      return Fail("invalid number: expected a digit, got " + Describe());
    }
    if (Consume('.') && !Digits()) {
      return Fail("invalid number: expected a digit after '.', got " + Describe());
    }
    if (Consume('e') || Consume('E')) {
      if (!Consume('+')) Consume('-');
      if (!Digits()) return Fail("invalid number: expected an exponent, got " + Describe());
    }
    return SendScalar(Kind::kNumber, text_.substr(start, pos_ - start), at);
  }

  std::optional<uint32_t> Hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      uint32_t d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      v = v * 16 + d;
    }
    pos_ += 4;
    return v;
  }

  static void AppendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Length of the valid UTF-8 sequence starting at pos_, or 0 (overlong forms, surrogates and
  // code points above U+10FFFF are invalid).
  size_t Utf8Length() const {
    auto byte = [this](size_t i) -> unsigned {
      return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0u;
    };
    auto cont = [&](size_t i) { return (byte(i) & 0xC0) == 0x80; };
    unsigned b0 = byte(0);
    if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
    if (b0 >= 0xE0 && b0 <= 0xEF) {
      unsigned b1 = byte(1);
      if (b0 == 0xE0 && b1 < 0xA0) return 0;
      if (b0 == 0xED && b1 >= 0xA0) return 0;
      return cont(1) && cont(2) ? 3 : 0;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
      unsigned b1 = byte(1);
      if (b0 == 0xF0 && b1 < 0x90) return 0;
      if (b0 == 0xF4 && b1 >= 0x90) return 0;
      return cont(1) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
  }

  bool ParseString(std::string& out) {
    ++pos_;  // the opening quote
    while (true) {
      if (pos_ >= text_.size()) return Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        return Fail("control character in string (write it as an escape such as \\n)");
      }
      if (c == '\\') {
        ++pos_;
        if (pos_ >= text_.size()) return Fail("unterminated string");
        char e = text_[pos_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            std::optional<uint32_t> cp = Hex4();
            if (!cp) return Fail("invalid \\u escape: expected four hex digits");
            if (*cp >= 0xDC00 && *cp <= 0xDFFF) return Fail("invalid \\u escape: lone surrogate");
            if (*cp >= 0xD800 && *cp <= 0xDBFF) {
              // A high surrogate must be followed by an escaped low one.
              if (!(Consume('\\') && Consume('u'))) {
                return Fail("invalid \\u escape: lone surrogate");
              }
              std::optional<uint32_t> low = Hex4();
              if (!low || *low < 0xDC00 || *low > 0xDFFF) {
                return Fail("invalid \\u escape: lone surrogate");
              }
              *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
            }
            AppendUtf8(*cp, out);
            break;
          }
          default:
            --pos_;
            return Fail("invalid escape \\" + std::string(1, e) + " in string");
        }
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      size_t n = Utf8Length();
      if (n == 0) return Fail("invalid UTF-8 in string");
      out.append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  bool ParseArray(Position at, int depth) {
    if (depth > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth));
    ++pos_;
    if (!Sent(sink_.Begin(Kind::kList, at))) return false;
    SkipSpace();
    if (Consume(']')) return Sent(sink_.End());
    while (true) {
      if (!ParseValue(depth)) return false;
      SkipSpace();
      if (Consume(']')) return Sent(sink_.End());
      if (!Consume(',')) return Fail("expected ',' or ']' in array, got " + Describe());
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ']') {
        return Fail("trailing ',' before ']' (not allowed in JSON)");
      }
    }
  }

  bool ParseObject(Position at, int depth) {
    if (depth > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth));
    ++pos_;
    if (!Sent(sink_.Begin(Kind::kMap, at))) return false;
    SkipSpace();
    if (Consume('}')) return Sent(sink_.End());
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] != '"') {
        if (pos_ < text_.size() && text_[pos_] == '}') {
          return Fail("trailing ',' before '}' (not allowed in JSON)");
        }
        return Fail("expected a quoted key, got " + Describe());
      }
      Position key_at = Here();
      buffer_.clear();
      if (!ParseString(buffer_) || !SendScalar(Kind::kString, buffer_, key_at)) return false;
      SkipSpace();
      if (!Consume(':')) return Fail("expected ':' after key, got " + Describe());
      SkipSpace();
      if (!ParseValue(depth)) return false;
      SkipSpace();
      if (Consume('}')) return Sent(sink_.End());
      if (!Consume(',')) return Fail("expected ',' or '}' in object, got " + Describe());
      SkipSpace();
    }
  }

  std::string_view text_;
  doc::Sink& sink_;
  std::string buffer_;  // the string being decoded; reused, so reading allocates rarely
  bool stopped_ = false;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
  ParseError error_;
};

}  // namespace

doc::ReadResult Parse(std::string_view text, doc::Sink& sink) { return Parser(text, sink).Run(); }

}  // namespace ping_exporter::targets::json
