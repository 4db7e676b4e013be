#pragma once
// A small strict JSON (RFC 8259) reader for file_sd files: exact line:column in errors and
// linear time, where yaml-cpp would accept non-JSON and take seconds on large lists.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace ping_exporter::targets::json {

/// 1-based line and column (in bytes) of a value's first character.
struct Position {
  uint32_t line = 0;
  uint32_t column = 0;
};

struct Member;

/// One parsed JSON value. A plain tree value: copy or move freely.
struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;             ///< kString: the decoded UTF-8 text; kNumber: as written
  std::vector<Value> items;     ///< kArray
  std::vector<Member> members;  ///< kObject, in document order (duplicate keys kept)
  Position position;
};

struct Member {
  std::string key;
  Position key_position;
  Value value;
};

struct ParseError {
  Position position;
  std::string message;
};

/// Parses one JSON document (a leading UTF-8 byte order mark is skipped). Strings must be
/// valid UTF-8; nesting deeper than 64 levels is refused. Never throws except std::bad_alloc.
Expected<Value, ParseError> Parse(std::string_view text);

/// "object", "array", "string", ... for messages.
std::string_view KindName(Value::Kind kind);

}  // namespace ping_exporter::targets::json
