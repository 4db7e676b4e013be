#pragma once
// Internal to the config module: turning toml++ nodes into values, or into a failure that
// says where it is and what was expected. Stateless functions; thread-safe.

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "config/config.h"

namespace ping_exporter::config::detail {

/// A validation failure before the file name is attached.
struct Fail {
  SourcePosition position;
  std::string message;
};
/// nullopt on success.
using Status = std::optional<Fail>;

SourcePosition PosOf(const toml::source_region& region);
SourcePosition PosOf(const toml::node& node);
SourcePosition PosOf(const toml::key& key);
/// "line:column".
std::string PosText(const SourcePosition& p);

/// "<path>: expected <expected>, got <the node's type>" at the node.
Fail TypeFail(const toml::node& node, std::string_view path, std::string_view expected);

/// Shortest text that reads back as `v` ("0.005", "1e-05").
std::string FormatNumber(double v);

/// "path.key", or "key" at the top level (empty `path`).
std::string Join(std::string_view path, std::string_view key);
/// "path[i]".
std::string Index(std::string_view path, size_t i);

/// A table's entries in file order, so the first error reported is the first in the file.
std::vector<std::pair<const toml::key*, const toml::node*>> InFileOrder(const toml::table& t);

// Scalar readers: each either fills `out` or explains what was expected.

/// An integer in min..max; `range_note` (if not empty) is added to the out-of-range message.
Status ReadInt(const toml::node& node, std::string_view path, int64_t min, int64_t max,
               std::string_view range_note, int64_t& out);
/// A duration string ("250ms", "1s") greater than zero.
Status ReadDuration(const toml::node& node, std::string_view path, Duration& out);
/// true or false.
Status ReadBool(const toml::node& node, std::string_view path, bool& out);
/// A string without NUL, control characters or invalid UTF-8 (UnprintableReason), as every
/// string that /metrics, logs or the status page show must be: names, label values, paths.
/// `expected` describes it for the type error, e.g. "a string label value".
Status ReadPrintable(const toml::node& node, std::string_view path, std::string_view expected,
                     std::string& out);

/// "<table_path>: unknown key "<key>"" (or "... at top level" for an empty `table_path`),
/// followed by `hint` if not empty, else by the nearest of `known` if it is close enough to be
/// a typo, else by the whole `known` list.
Fail UnknownKey(const toml::key& key, std::string_view table_path,
                const std::vector<std::string_view>& known, std::string_view hint);

}  // namespace ping_exporter::config::detail
