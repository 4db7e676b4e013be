#pragma once
// A JSON or YAML document as a stream of events, so file_sd files are checked while they are
// read and no document tree is ever built: memory stays proportional to the targets kept,
// whatever the file holds.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace ping_exporter::targets::doc {

/// 1-based line and column of a value's first character (JSON: column in bytes; YAML: in
/// characters, as libyaml counts them).
struct Position {
  uint32_t line = 0;
  uint32_t column = 0;
};

/// What a value is. YAML scalars are kString, or kNull when plain and empty, "~" or "null".
enum class Kind { kNull, kBool, kNumber, kString, kList, kMap };

/// "null", "boolean", "number", "string", "array", "object": for messages.
constexpr std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "array";
    case Kind::kMap:
      break;
  }
  return "object";
}

/// Receives one document in order. A list's items, or a map's keys and values alternating
/// (key, value, key, value: a key is a value too, since YAML allows any), come between
/// Begin() and End(). A method returns false to stop the reader; the sink keeps its reason.
class Sink {
 public:
  virtual ~Sink() = default;
  /// A kList or kMap starts at `at`.
  virtual bool Begin(Kind kind, Position at) = 0;
  /// The innermost open list or map ends.
  virtual bool End() = 0;
  /// A scalar: decoded text for kString, the number as written for kNumber, "true" or "false"
  /// for kBool, "" for kNull. `text` is valid only during the call.
  virtual bool Scalar(Kind kind, std::string_view text, Position at) = 0;
};

/// A syntax error, where the reader stopped.
struct ParseError {
  Position position;
  std::string message;
};

/// What a reader returns: true when the whole document was read, false when the sink stopped
/// it, or the syntax error.
using ReadResult = Expected<bool, ParseError>;

}  // namespace ping_exporter::targets::doc
