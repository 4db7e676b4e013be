#pragma once
// Internal to the config module: which keys each kind of table takes, and the probe options
// as one table (name, rule, field of ProbeOptions) that drives reading them, tracking where
// each value came from, inheriting [defaults], and the unknown-key messages. Immutable data
// and stateless functions; thread-safe.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/toml_read.h"

namespace ping_exporter::config::detail {

/// Where a probe option's value was set.
enum class Scope { kBuiltin, kDefaults, kGroup };

struct Origin {
  Scope scope = Scope::kBuiltin;
  SourcePosition position;
};

/// One probe option key; the table itself lives in schema.cpp.
struct OptionKey;
inline constexpr size_t kOptionCount = 17;

/// The option named `key`, or nullptr if `key` is not a probe option.
const OptionKey* FindOption(std::string_view key);

/// Probe options being assembled for one scope ([defaults], or one [[targets]] or
/// [[target_files]] table), with the origin of each value. A group starts as a copy of the
/// [defaults] set, so inherited values keep their [defaults] origin and built-in ones stay
/// built-in.
struct OptionSet {
  ProbeOptions options;
  std::array<Origin, kOptionCount> origins;  ///< indexed like the option table
};

/// Reads `node` as the value of `option` into `set`, recording `scope` and the node's position
/// as its origin. `path` names the key in messages ("defaults.count").
Status ReadOption(const OptionKey& option, const toml::node& node, std::string_view path,
                  Scope scope, OptionSet& set);

/// Checks the relations between options once a scope is fully read (timeout < interval, a
/// round shorter than the interval, resolve_timeout < resolve_interval). Errors point at the
/// value set in this scope if one is involved, else at an inherited one, else at
/// `table_position`; values not set here say where they came from.
Status CheckTiming(const OptionSet& set, std::string_view path, Scope scope,
                   SourcePosition table_position);

/// The kinds of table in a config file.
enum class Table { kTop, kDefaults, kGroup, kFile };

/// The keys `table` takes, in the order messages list them.
std::vector<std::string_view> KnownKeys(Table table);

/// The error for `key`, which `table` does not take: a hint where the key belongs if it
/// belongs elsewhere, else the nearest known key or the list of them. `table_path` is "" for
/// the top level, else e.g. "defaults" or "targets[2]".
Fail UnknownKeyIn(Table table, const toml::key& key, std::string_view table_path);

}  // namespace ping_exporter::config::detail
