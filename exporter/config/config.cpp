#include "config/config.h"

#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "common/ip_address.h"

namespace ping_exporter::config {
namespace {

// Limits that the rest of the exporter relies on.
constexpr int64_t kMinCount = 1;
constexpr int64_t kMaxCount = 64;
constexpr int64_t kMinPayload = 32;  // the probe cookie (slot, sequence, send time, token)
constexpr int64_t kMaxPayload = 65000;
constexpr int64_t kMaxWorkers = 1024;
// Guards against reading endless files such as /dev/zero; real configs are far smaller.
constexpr size_t kMaxFileBytes = 64u << 20;

// Linux interface names: IFNAMSIZ (16) including the terminating NUL.
constexpr size_t kMaxInterfaceName = 15;
constexpr int64_t kMaxFwmark = 0xffffffffLL;

constexpr std::string_view kTopLevelKeys[] = {"workers",  "rtt_buckets", "group_label",
                                              "defaults", "targets",     "target_files"};
constexpr std::string_view kOptionKeys[] = {"interval",
                                            "timeout",
                                            "spacing",
                                            "count",
                                            "payload_size",
                                            "ttl",
                                            "tos",
                                            "dont_fragment",
                                            "source_address",
                                            "resolve_interval",
                                            "resolve_timeout",
                                            "interface",
                                            "fwmark"};
constexpr std::string_view kGroupOnlyKeys[] = {"name", "hosts", "family", "labels",
                                               "all_addresses"};
// Keys of a [[target_files]] table besides the option keys.
constexpr std::string_view kFileOnlyKeys[] = {"name",   "path",          "format",
                                              "family", "all_addresses", "labels"};
// Labels the exporter itself puts on series, or that Prometheus adds on scrape.
constexpr std::string_view kReservedLabels[] = {"target", "address", "group", "status",
                                                "stat",   "reason",  "job",   "instance"};

constexpr std::string_view kEmbeddedDefault =
    R"toml(# ping_exporter built-in configuration, used without --config.file.
[defaults]
interval = "1s"
timeout = "500ms"
spacing = "100ms"
count = 2

[[targets]]
name = "loopback"
hosts = ["127.0.0.1", "::1"]
)toml";

/// A validation failure before the file name is attached.
struct Fail {
  SourcePosition position;
  std::string message;
};
using Status = std::optional<Fail>;

SourcePosition PosOf(const toml::source_region& region) {
  return SourcePosition{region.begin.line, region.begin.column};
}
SourcePosition PosOf(const toml::node& node) { return PosOf(node.source()); }
SourcePosition PosOf(const toml::key& key) { return PosOf(key.source()); }

bool Before(const SourcePosition& a, const SourcePosition& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

std::string PosText(const SourcePosition& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

Fail MakeFail(SourcePosition pos, std::string message) { return Fail{pos, std::move(message)}; }

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string FormatNumber(double v) {
  char buf[64];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "floating-point number";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Fail TypeFail(const toml::node& node, std::string_view path, std::string_view expected) {
  return MakeFail(PosOf(node), std::string(path) + ": expected " + std::string(expected) +
                                   ", got " + std::string(TypeName(node)));
}

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view key) {
  return std::find(std::begin(list), std::end(list), key) != std::end(list);
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive edit distance, to suggest the key a typo meant.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string_view> NearestKey(std::string_view key,
                                           const std::vector<std::string_view>& known) {
  std::optional<std::string_view> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view candidate : known) {
    size_t d = EditDistance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  // Close enough to be a typo, not a different word.
  size_t limit = std::max<size_t>(1, std::min<size_t>(3, key.size() / 3));
  if (best && best_distance <= limit) return best;
  return std::nullopt;
}

// `table_path` is "" for the top level, else e.g. "defaults" or "targets[2]". A non-empty
// `hint` replaces the nearest-key suggestion.
Fail UnknownKey(const toml::key& key, std::string_view table_path,
                const std::vector<std::string_view>& known, std::string_view hint) {
  std::string msg = table_path.empty() ? std::string() : std::string(table_path) + ": ";
  msg += "unknown key " + Quote(key.str());
  if (table_path.empty()) msg += " at top level";
  if (!hint.empty()) {
    msg += " (" + std::string(hint) + ")";
  } else if (std::optional<std::string_view> near = NearestKey(key.str(), known)) {
    msg += " (did you mean " + Quote(*near) + "?)";
  } else {
    msg += " (known keys:";
    for (std::string_view k : known) msg += " " + std::string(k);
    msg += ")";
  }
  return MakeFail(PosOf(key), std::move(msg));
}

// A table's entries in file order, so the first error reported is the first in the file.
std::vector<std::pair<const toml::key*, const toml::node*>> InFileOrder(const toml::table& t) {
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (auto&& [key, node] : t) out.emplace_back(&key, &node);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return Before(PosOf(*a.first), PosOf(*b.first));
  });
  return out;
}

std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// ---- scalar readers: each either fills `out` or explains what was expected ----

Status ReadInt(const toml::node& node, std::string_view path, int64_t min, int64_t max,
               std::string_view range_note, int64_t& out) {
  const toml::value<int64_t>* v = node.as_integer();
  if (!v) return TypeFail(node, path, "an integer");
  int64_t x = v->get();
  if (x < min || x > max) {
    std::string msg = std::string(path) + ": " + std::to_string(x) + " is out of range (expected " +
                      std::to_string(min) + ".." + std::to_string(max);
    if (!range_note.empty()) msg += "; " + std::string(range_note);
    msg += ")";
    return MakeFail(PosOf(node), std::move(msg));
  }
  out = x;
  return std::nullopt;
}

Status ReadDuration(const toml::node& node, std::string_view path, Duration& out) {
  const toml::value<std::string>* v = node.as_string();
  if (!v) return TypeFail(node, path, "a duration string such as \"1s\" or \"250ms\"");
  std::string_view text = v->get();
  std::optional<Duration> d = ParseDuration(text);
  bool negative = false;
  if (!d && !text.empty() && text.front() == '-') {
    d = ParseDuration(text.substr(1));
    negative = d.has_value();
  }
  if (!d) {
    return MakeFail(PosOf(node), std::string(path) + ": " + Quote(text) +
                                     " is not a duration (expected e.g. \"500ms\", \"1s\")");
  }
  if (negative || d->count() <= 0) {
    return MakeFail(PosOf(node),
                    std::string(path) + ": " + Quote(text) + " must be greater than zero");
  }
  out = *d;
  return std::nullopt;
}

// SO_BINDTODEVICE names; the kernel also refuses "." and "..". Length is checked apart.
bool IsInterfaceName(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

// ---- probe options with where each value came from ----

enum class Scope { kBuiltin, kDefaults, kGroup };

struct Origin {
  Scope scope = Scope::kBuiltin;
  SourcePosition position;
};

struct Origins {
  Origin interval, timeout, spacing, count, payload_size, ttl, tos, dont_fragment, source_address;
  Origin resolve_interval, resolve_timeout, interface, fwmark;
};

/// Options being assembled for one scope ([defaults] or one group), with their origins.
struct OptionSet {
  ProbeOptions options;
  Origins origins;
};

// Sets one option key. Returns nullopt on success; `key` must be one of kOptionKeys.
Status ReadOption(std::string_view key, const toml::node& node, std::string_view path, Scope scope,
                  OptionSet& set) {
  ProbeOptions& o = set.options;
  Origin origin{scope, PosOf(node)};
  Status st;
  int64_t n = 0;
  if (key == "interval") {
    st = ReadDuration(node, path, o.interval);
    set.origins.interval = origin;
  } else if (key == "timeout") {
    st = ReadDuration(node, path, o.timeout);
    set.origins.timeout = origin;
  } else if (key == "spacing") {
    st = ReadDuration(node, path, o.spacing);
    set.origins.spacing = origin;
  } else if (key == "count") {
    st = ReadInt(node, path, kMinCount, kMaxCount, "", n);
    o.count = static_cast<uint32_t>(n);
    set.origins.count = origin;
  } else if (key == "payload_size") {
    const toml::value<int64_t>* v = node.as_integer();
    if (!v) return TypeFail(node, path, "an integer");
    if (v->get() < kMinPayload) {
      return MakeFail(origin.position, std::string(path) + ": " + std::to_string(v->get()) +
                                           " is below the minimum of " +
                                           std::to_string(kMinPayload) +
                                           " bytes (the probe cookie needs them)");
    }
    if (v->get() > kMaxPayload) {
      return MakeFail(origin.position, std::string(path) + ": " + std::to_string(v->get()) +
                                           " is above the maximum of " +
                                           std::to_string(kMaxPayload) + " bytes");
    }
    o.payload_size = static_cast<uint32_t>(v->get());
    set.origins.payload_size = origin;
  } else if (key == "ttl") {
    st = ReadInt(node, path, 1, 255, "", n);
    o.ttl = static_cast<uint8_t>(n);
    set.origins.ttl = origin;
  } else if (key == "tos") {
    st = ReadInt(node, path, 0, 255, "", n);
    o.tos = static_cast<uint8_t>(n);
    set.origins.tos = origin;
  } else if (key == "dont_fragment") {
    const toml::value<bool>* v = node.as_boolean();
    if (!v) return TypeFail(node, path, "a boolean (true or false)");
    o.dont_fragment = v->get();
    set.origins.dont_fragment = origin;
  } else if (key == "source_address") {
    const toml::value<std::string>* v = node.as_string();
    if (!v) return TypeFail(node, path, "a string");
    const std::string& s = v->get();
    if (!s.empty() && !IpAddress::Parse(s)) {
      return MakeFail(origin.position,
                      std::string(path) + ": " + Quote(s) +
                          " is not an IP address (expected e.g. \"127.0.0.1\" or \"::1\")");
    }
    o.source_address = s;
    set.origins.source_address = origin;
  } else if (key == "resolve_interval") {
    st = ReadDuration(node, path, o.resolve_interval);
    set.origins.resolve_interval = origin;
  } else if (key == "resolve_timeout") {
    st = ReadDuration(node, path, o.resolve_timeout);
    set.origins.resolve_timeout = origin;
  } else if (key == "interface") {
    const toml::value<std::string>* v = node.as_string();
    if (!v) return TypeFail(node, path, "a string (an interface name such as \"eth0\")");
    const std::string& s = v->get();
    if (s.size() > kMaxInterfaceName) {
      return MakeFail(origin.position, std::string(path) + ": " + Quote(s) + " is " +
                                           std::to_string(s.size()) +
                                           " characters long (an interface name has at most " +
                                           std::to_string(kMaxInterfaceName) + ")");
    }
    if (!s.empty() && !IsInterfaceName(s)) {
      return MakeFail(origin.position, std::string(path) + ": " + Quote(s) +
                                           " is not an interface name (expected letters, "
                                           "digits, '_', '.' or '-', such as \"eth0\")");
    }
    o.interface = s;
    set.origins.interface = origin;
  } else if (key == "fwmark") {
    st = ReadInt(node, path, 0, kMaxFwmark, "", n);
    o.fwmark = static_cast<uint32_t>(n);
    set.origins.fwmark = origin;
  }
  return st;
}

std::string Described(std::string_view name, const std::string& value, const Origin& origin,
                      Scope scope) {
  std::string out = std::string(name) + " " + value;
  if (origin.scope == scope) return out;
  if (origin.scope == Scope::kDefaults) return out + " (from [defaults])";
  return out + " (built-in default)";
}

// Picks where to point a cross-field error: the first candidate set in this very scope,
// else the first set anywhere, else the table itself.
SourcePosition Blame(std::initializer_list<const Origin*> candidates, Scope scope,
                     SourcePosition fallback) {
  for (const Origin* o : candidates) {
    if (o->scope == scope) return o->position;
  }
  for (const Origin* o : candidates) {
    if (o->scope != Scope::kBuiltin) return o->position;
  }
  return fallback;
}

// Checks relations between options once a scope is fully read.
Status CheckTiming(const OptionSet& set, std::string_view path, Scope scope,
                   SourcePosition table_position) {
  const ProbeOptions& o = set.options;
  const Origins& g = set.origins;
  std::string prefix = path.empty() ? std::string() : std::string(path) + ": ";
  if (o.timeout >= o.interval) {
    return MakeFail(Blame({&g.timeout, &g.interval}, scope, table_position),
                    prefix + Described("timeout", FormatDuration(o.timeout), g.timeout, scope) +
                        " must be less than " +
                        Described("interval", FormatDuration(o.interval), g.interval, scope));
  }
  if (o.resolve_timeout >= o.resolve_interval) {
    // A lookup must end before the next one of the same name is due.
    return MakeFail(Blame({&g.resolve_timeout, &g.resolve_interval}, scope, table_position),
                    prefix +
                        Described("resolve_timeout", FormatDuration(o.resolve_timeout),
                                  g.resolve_timeout, scope) +
                        " must be less than " +
                        Described("resolve_interval", FormatDuration(o.resolve_interval),
                                  g.resolve_interval, scope));
  }
  if (o.count <= 1) return std::nullopt;
  // Overflow-safe (count-1)*spacing+timeout; a value that overflows is certainly too long.
  int64_t spread = 0;
  int64_t round = 0;
  bool overflow =
      __builtin_mul_overflow(o.spacing.count(), static_cast<int64_t>(o.count - 1), &spread) ||
      __builtin_add_overflow(spread, o.timeout.count(), &round);
  if (overflow || round >= o.interval.count()) {
    std::string total =
        overflow ? std::string("more than 292 years") : FormatDuration(Duration(round));
    return MakeFail(Blame({&g.spacing, &g.count, &g.timeout, &g.interval}, scope, table_position),
                    prefix + "a round lasts (count-1)*spacing+timeout = (" +
                        std::to_string(o.count) + "-1)*" + FormatDuration(o.spacing) + "+" +
                        FormatDuration(o.timeout) + " = " + total + ", which must be less than " +
                        Described("interval", FormatDuration(o.interval), g.interval, scope) +
                        "; lower count, spacing or timeout, or raise interval");
  }
  return std::nullopt;
}

// ---- the parser proper ----

constexpr const char* kNeedTargets =
    "at least one group of hosts is required, inline or as [[target_files]]";

struct HostSeen {
  SourcePosition position;
  std::string path;
};

// Where a host was first listed: its path is rendered only for a duplicate's message, since
// building "targets[0].hosts[12345]" for every host cost more than parsing it.
struct HostRef {
  SourcePosition position;
  uint32_t group = 0;
  uint32_t index = 0;
  std::string Path() const { return Index(Join(Index("targets", group), "hosts"), index); }
};
using HostsSeen = std::unordered_map<std::string, HostRef>;  // by HostKey()

/// Turns a parsed TOML document into a Config. Single use; not thread-safe.
class Validator {
 public:
  explicit Validator(std::string_view source_name) : base_dir_(BaseDirectory(source_name)) {
    config_.source_name = source_name;
  }

  Status Run(const toml::table& root) {
    std::vector<std::string_view> known(std::begin(kTopLevelKeys), std::end(kTopLevelKeys));
    const toml::node* defaults = nullptr;
    const toml::node* targets = nullptr;
    const toml::node* target_files = nullptr;
    config_.rtt_buckets = DefaultRttBuckets();
    for (const auto& [key, node] : InFileOrder(root)) {
      std::string_view k = key->str();
      Status st;
      if (k == "workers") {
        int64_t n = 0;
        st = ReadInt(*node, "workers", 0, kMaxWorkers, "0 means one per CPU core", n);
        config_.workers = static_cast<uint32_t>(n);
      } else if (k == "rtt_buckets") {
        st = ReadBuckets(*node);
      } else if (k == "group_label") {
        st = ReadBool(*node, "group_label", config_.group_label);
      } else if (k == "defaults") {
        defaults = node;
      } else if (k == "targets") {
        targets = node;
      } else if (k == "target_files") {
        target_files = node;
      } else if (Contains(kOptionKeys, k)) {
        st = UnknownKey(*key, "", known, "probe options go in [defaults] or [[targets]]");
      } else if (Contains(kGroupOnlyKeys, k)) {
        st = UnknownKey(*key, "", known, "this key belongs in a [[targets]] group");
      } else if (Contains(kFileOnlyKeys, k)) {
        st = UnknownKey(*key, "", known, "this key belongs in a [[target_files]] table");
      } else {
        st = UnknownKey(*key, "", known, "");
      }
      if (st) return st;
    }
    defaults_.options = ProbeOptions{};
    if (defaults) {
      if (Status st = ReadDefaults(*defaults)) return st;
    }
    config_.defaults = defaults_.options;
    if (!targets && !target_files) {
      return MakeFail({}, std::string("no [[targets]] defined (") + kNeedTargets + ")");
    }
    if (targets) {
      if (Status st = ReadTargets(*targets)) return st;
    }
    if (target_files) {
      if (Status st = ReadTargetFiles(*target_files)) return st;
      if (config_.groups.empty() && config_.target_files.empty()) {
        return MakeFail(PosOf(*target_files),
                        std::string("target_files: no [[target_files]] listed and no [[targets]] "
                                    "defined (") +
                            kNeedTargets + ")");
      }
    }
    return std::nullopt;
  }

  Config Take() { return std::move(config_); }

 private:
  Status ReadBuckets(const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (!arr) return TypeFail(node, "rtt_buckets", "an array of numbers (seconds)");
    if (arr->empty()) {
      return MakeFail(PosOf(node),
                      "rtt_buckets: must not be empty (omit the key to use the default buckets)");
    }
    std::vector<double> buckets;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      std::string path = Index("rtt_buckets", i);
      double v = 0;
      if (const toml::value<double>* f = e.as_floating_point()) {
        v = f->get();
      } else if (const toml::value<int64_t>* n = e.as_integer()) {
        v = static_cast<double>(n->get());
      } else {
        return TypeFail(e, path, "a number of seconds");
      }
      if (!std::isfinite(v)) {
        return MakeFail(PosOf(e), path + ": must be a finite number (the +Inf bucket is implicit)");
      }
      if (v <= 0) {
        return MakeFail(PosOf(e), path + ": " + FormatNumber(v) + " must be greater than zero");
      }
      if (!buckets.empty() && v <= buckets.back()) {
        return MakeFail(
            PosOf(e), path + ": " + FormatNumber(v) + " is not greater than the previous bucket " +
                          FormatNumber(buckets.back()) + " (buckets must be strictly increasing)");
      }
      buckets.push_back(v);
    }
    config_.rtt_buckets = std::move(buckets);
    return std::nullopt;
  }

  Status ReadDefaults(const toml::node& node) {
    const toml::table* t = node.as_table();
    if (!t) return TypeFail(node, "defaults", "a table ([defaults])");
    std::vector<std::string_view> known(std::begin(kOptionKeys), std::end(kOptionKeys));
    for (const auto& [key, value] : InFileOrder(*t)) {
      std::string_view k = key->str();
      if (Contains(kOptionKeys, k)) {
        if (Status st = ReadOption(k, *value, Join("defaults", k), Scope::kDefaults, defaults_)) {
          return st;
        }
      } else if (k == "hosts") {
        return UnknownKey(*key, "defaults", known,
                          "\"hosts\" can only be set per [[targets]] group");
      } else if (Contains(kGroupOnlyKeys, k) || Contains(kFileOnlyKeys, k)) {
        std::string where = Contains(kGroupOnlyKeys, k)
                                ? "per [[targets]] group or [[target_files]] table"
                                : "per [[target_files]] table";
        return UnknownKey(*key, "defaults", known,
                          "\"" + std::string(k) + "\" can only be set " + where);
      } else {
        return UnknownKey(*key, "defaults", known, "");
      }
    }
    return CheckTiming(defaults_, "defaults", Scope::kDefaults, PosOf(node));
  }

  Status ReadTargets(const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (!arr) return TypeFail(node, "targets", "an array of tables ([[targets]])");
    if (arr->empty()) {
      return MakeFail(PosOf(node),
                      std::string("targets: no [[targets]] defined (") + kNeedTargets + ")");
    }
    HostsSeen hosts_seen;
    size_t host_count = 0;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table* t = arr->get(i)->as_table();
      const toml::node* h = t ? t->get("hosts") : nullptr;
      if (h && h->is_array()) host_count += h->as_array()->size();
    }
    hosts_seen.reserve(host_count);
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      std::string path = Index("targets", i);
      const toml::table* t = e.as_table();
      if (!t) return TypeFail(e, path, "a table ([[targets]])");
      TargetGroup group;
      if (Status st = ReadGroup(*t, path, i, group, hosts_seen)) return st;
      config_.groups.push_back(std::move(group));
    }
    return std::nullopt;
  }

  // Where the keys that [[targets]] and [[target_files]] tables share are stored.
  struct SourceFields {
    OptionSet* set;
    std::string* name;
    Labels* labels;
    bool* all_addresses;
    const toml::node** family;  // read after the loop, once the other keys are known
  };

  // Reads `k` if it is one of the shared keys (probe options, name, family, labels,
  // all_addresses) into `f`, leaving any error in `st`; false if `k` is not one of them.
  bool ReadSharedKey(std::string_view k, const toml::node& value, const std::string& key_path,
                     SourceFields f, Status& st) {
    if (Contains(kOptionKeys, k)) {
      st = ReadOption(k, value, key_path, Scope::kGroup, *f.set);
    } else if (k == "name") {
      const toml::value<std::string>* v = value.as_string();
      if (!v) {
        st = TypeFail(value, key_path, "a string");
      } else if (v->get().empty()) {
        st = MakeFail(PosOf(value), key_path + ": must not be empty");
      } else {
        *f.name = v->get();
        group_name_position_ = PosOf(value);
      }
    } else if (k == "family") {
      *f.family = &value;
    } else if (k == "labels") {
      st = ReadLabels(value, key_path, *f.labels);
    } else if (k == "all_addresses") {
      st = ReadBool(value, key_path, *f.all_addresses);
    } else {
      return false;
    }
    return true;
  }

  Status ReadGroup(const toml::table& t, const std::string& path, size_t index, TargetGroup& group,
                   HostsSeen& hosts_seen) {
    group.position = PosOf(t);
    group.name = "group-" + std::to_string(index + 1);
    group_name_position_ = group.position;
    OptionSet set = defaults_;
    // Inherited values keep their [defaults] origin; built-in ones stay built-in.
    std::vector<std::string_view> known(std::begin(kGroupOnlyKeys), std::end(kGroupOnlyKeys));
    known.insert(known.end(), std::begin(kOptionKeys), std::end(kOptionKeys));
    const toml::node* hosts = nullptr;
    const toml::node* family = nullptr;
    for (const auto& [key, value] : InFileOrder(t)) {
      std::string_view k = key->str();
      std::string key_path = Join(path, k);
      Status st;
      if (ReadSharedKey(
              k, *value, key_path,
              SourceFields{&set, &group.name, &group.labels, &group.all_addresses, &family}, st)) {
      } else if (k == "hosts") {
        hosts = value;
      } else if (k == "workers" || k == "rtt_buckets") {
        st = UnknownKey(*key, path, known, "\"" + std::string(k) + "\" is a top-level key");
      } else if (Contains(kFileOnlyKeys, k)) {
        st = UnknownKey(*key, path, known,
                        "\"" + std::string(k) + "\" belongs in a [[target_files]] table");
      } else {
        st = UnknownKey(*key, path, known, "");
      }
      if (st) return st;
    }
    if (family) {
      if (Status st = ReadFamily(*family, Join(path, "family"), group.family)) return st;
    }
    if (Status st = CheckName(group.name, path)) return st;
    if (!hosts) {
      return MakeFail(group.position, path +
                                          ": missing required key \"hosts\" (e.g. hosts = "
                                          "[\"127.0.0.1\"])");
    }
    if (Status st = ReadHosts(*hosts, Join(path, "hosts"), index, group, hosts_seen)) return st;
    if (Status st = CheckTiming(set, path, Scope::kGroup, group.position)) return st;
    group.options = set.options;
    return std::nullopt;
  }

  // Group and file names share one namespace: both name the source of a target in logs and on
  // the status page.
  Status CheckName(const std::string& name, const std::string& path) {
    auto [it, inserted] = names_seen_.emplace(name, HostSeen{group_name_position_, path});
    if (inserted) return std::nullopt;
    return MakeFail(group_name_position_, path + ".name: duplicate group name " + Quote(name) +
                                              " (already used by " + it->second.path + " at " +
                                              PosText(it->second.position) + ")");
  }

  Status ReadTargetFiles(const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (!arr) return TypeFail(node, "target_files", "an array of tables ([[target_files]])");
    std::map<std::string, HostSeen> paths_seen;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      std::string path = Index("target_files", i);
      const toml::table* t = e.as_table();
      if (!t) return TypeFail(e, path, "a table ([[target_files]])");
      TargetFile file;
      SourcePosition path_position;
      if (Status st = ReadTargetFile(*t, path, i, file, path_position)) return st;
      auto [it, inserted] = paths_seen.emplace(file.path, HostSeen{path_position, path});
      if (!inserted) {
        return MakeFail(path_position, path + ".path: duplicate target file " + Quote(file.path) +
                                           " (already read by " + it->second.path + " at " +
                                           PosText(it->second.position) + ")");
      }
      config_.target_files.push_back(std::move(file));
    }
    return std::nullopt;
  }

  Status ReadTargetFile(const toml::table& t, const std::string& path, size_t index,
                        TargetFile& file, SourcePosition& path_position) {
    file.position = PosOf(t);
    file.name = "file-" + std::to_string(index + 1);
    group_name_position_ = file.position;
    OptionSet set = defaults_;
    std::vector<std::string_view> known(std::begin(kFileOnlyKeys), std::end(kFileOnlyKeys));
    known.insert(known.end(), std::begin(kOptionKeys), std::end(kOptionKeys));
    const toml::node* file_path = nullptr;
    const toml::node* format = nullptr;
    const toml::node* family = nullptr;
    for (const auto& [key, value] : InFileOrder(t)) {
      std::string_view k = key->str();
      std::string key_path = Join(path, k);
      Status st;
      if (ReadSharedKey(k, *value, key_path,
                        SourceFields{&set, &file.name, &file.labels, &file.all_addresses, &family},
                        st)) {
      } else if (k == "path") {
        file_path = value;
      } else if (k == "format") {
        format = value;
      } else if (k == "hosts") {
        st = UnknownKey(*key, path, known,
                        "hosts are read from the file; list hosts inline in a [[targets]] group");
      } else if (k == "workers" || k == "rtt_buckets") {
        st = UnknownKey(*key, path, known, "\"" + std::string(k) + "\" is a top-level key");
      } else {
        st = UnknownKey(*key, path, known, "");
      }
      if (st) return st;
    }
    if (family) {
      if (Status st = ReadFamily(*family, Join(path, "family"), file.family)) return st;
    }
    if (Status st = CheckName(file.name, path)) return st;
    if (!file_path) {
      return MakeFail(file.position,
                      path + ": missing required key \"path\" (e.g. path = \"targets.txt\")");
    }
    path_position = PosOf(*file_path);
    const toml::value<std::string>* v = file_path->as_string();
    if (!v) return TypeFail(*file_path, Join(path, "path"), "a string (a file path)");
    const std::string& written = v->get();
    if (written.empty()) return MakeFail(path_position, Join(path, "path") + ": must not be empty");
    if (written.find('\0') != std::string::npos) {
      return MakeFail(path_position, Join(path, "path") + ": must not contain a NUL character");
    }
    file.path = (base_dir_ / std::filesystem::path(written)).lexically_normal().string();
    file.format = FormatFromExtension(file.path);
    if (format) {
      if (Status st = ReadFormat(*format, Join(path, "format"), file.format)) return st;
    }
    if (Status st = CheckTiming(set, path, Scope::kGroup, file.position)) return st;
    file.options = set.options;
    return std::nullopt;
  }

  static TargetFileFormat FormatFromExtension(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char& c : ext) c = Lower(c);
    if (ext == ".json" || ext == ".yml" || ext == ".yaml") return TargetFileFormat::kFileSd;
    return TargetFileFormat::kLines;
  }

  static Status ReadFormat(const toml::node& node, const std::string& path, TargetFileFormat& out) {
    const toml::value<std::string>* v = node.as_string();
    if (!v) return TypeFail(node, path, "a string (\"lines\" or \"file_sd\")");
    const std::string& s = v->get();
    for (TargetFileFormat f : {TargetFileFormat::kLines, TargetFileFormat::kFileSd}) {
      if (s == TargetFileFormatName(f)) {
        out = f;
        return std::nullopt;
      }
    }
    return MakeFail(PosOf(node), path + ": " + Quote(s) +
                                     " is not a target file format (expected \"lines\" or "
                                     "\"file_sd\")");
  }

  static Status ReadBool(const toml::node& node, const std::string& path, bool& out) {
    const toml::value<bool>* v = node.as_boolean();
    if (!v) return TypeFail(node, path, "a boolean (true or false)");
    out = v->get();
    return std::nullopt;
  }

  // Relative target file paths are taken from here: the config file's directory.
  static std::filesystem::path BaseDirectory(std::string_view source_name) {
    std::filesystem::path parent = std::filesystem::path(source_name).parent_path();
    std::error_code ec;
    std::filesystem::path abs =
        parent.empty() ? std::filesystem::current_path(ec) : std::filesystem::absolute(parent, ec);
    return ec ? parent : abs;
  }

  static Status ReadFamily(const toml::node& node, const std::string& path, Family& out) {
    const toml::value<std::string>* v = node.as_string();
    if (!v) return TypeFail(node, path, "a string (\"ip4\", \"ip6\" or \"any\")");
    const std::string& s = v->get();
    for (Family f : {Family::kIp4, Family::kIp6, Family::kAny}) {
      if (s == FamilyName(f)) {
        out = f;
        return std::nullopt;
      }
    }
    return MakeFail(PosOf(node), path + ": " + Quote(s) +
                                     " is not a family (expected \"ip4\", \"ip6\" or \"any\")");
  }

  static Status ReadHosts(const toml::node& node, const std::string& path, size_t group_index,
                          TargetGroup& group, HostsSeen& seen) {
    const toml::array* arr = node.as_array();
    if (!arr) return TypeFail(node, path, "an array of strings (IP addresses or host names)");
    if (arr->empty()) return MakeFail(PosOf(node), path + ": must list at least one host");
    group.hosts.reserve(arr->size());
    group.host_positions.reserve(arr->size());
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      auto host_path = [&] { return Index(path, i); };
      const toml::value<std::string>* v = e.as_string();
      if (!v) return TypeFail(e, host_path(), "a string (an IP address or host name)");
      const std::string& host = v->get();
      SourcePosition pos = PosOf(e);
      if (host.empty()) return MakeFail(pos, host_path() + ": host must not be empty");
      std::optional<IpAddress> ip = IpAddress::Parse(host);
      bool ip4 = ip && ip->is_v4();
      bool ip6 = ip && !ip->is_v4();
      if (!ip && !IsHostName(host)) {
        return MakeFail(pos,
                        host_path() + ": " + Quote(host) + " is not an IP address or host name");
      }
      if (ip6 && group.family == Family::kIp4) {
        return MakeFail(pos, host_path() + ": " + Quote(host) +
                                 " is an IPv6 address but the group's family is \"ip4\"");
      }
      if (ip4 && group.family == Family::kIp6) {
        return MakeFail(pos, host_path() + ": " + Quote(host) +
                                 " is an IPv4 address but the group's family is \"ip6\"");
      }
      auto [it, inserted] =
          seen.emplace(ip ? AddressKey(*ip) : HostKey(host),
                       HostRef{pos, static_cast<uint32_t>(group_index), static_cast<uint32_t>(i)});
      if (!inserted) {
        return MakeFail(pos, host_path() + ": duplicate host " + Quote(host) +
                                 " (already listed at " + PosText(it->second.position) + " as " +
                                 it->second.Path() + ")");
      }
      group.hosts.push_back(host);
      group.host_positions.push_back(pos);
    }
    return std::nullopt;
  }

  static Status ReadLabels(const toml::node& node, const std::string& path, Labels& out) {
    const toml::table* t = node.as_table();
    if (!t) return TypeFail(node, path, "a table such as { site = \"lab\" }");
    for (const auto& [key, value] : InFileOrder(*t)) {
      std::string name(key->str());
      if (!IsLabelName(name)) {
        return MakeFail(PosOf(*key), path + ": " + Quote(name) +
                                         " is not a valid label name (expected "
                                         "[a-zA-Z_][a-zA-Z0-9_]*)");
      }
      if (name.size() >= 2 && name[0] == '_' && name[1] == '_') {
        return MakeFail(PosOf(*key), path + ": label name " + Quote(name) +
                                         " is reserved (names starting with \"__\" are for "
                                         "Prometheus' internal use)");
      }
      if (IsReservedLabel(name)) {
        return MakeFail(PosOf(*key), path + ": label name " + Quote(name) +
                                         " is reserved (the exporter or Prometheus sets it)");
      }
      const toml::value<std::string>* v = value->as_string();
      if (!v) return TypeFail(*value, Join(path, name), "a string label value");
      out.emplace_back(std::move(name), v->get());
    }
    std::sort(out.begin(), out.end());
    return std::nullopt;
  }

  Config config_;
  OptionSet defaults_;
  std::filesystem::path base_dir_;
  std::map<std::string, HostSeen> names_seen_;  // group and file names
  SourcePosition group_name_position_;  // of the group being read: its `name`, else its table
};

ParseResult ToResult(std::string_view source_name, Fail fail) {
  return MakeUnexpected(Error{std::string(source_name), fail.position, std::move(fail.message)});
}

}  // namespace

std::string_view FamilyName(Family f) {
  switch (f) {
    case Family::kIp4:
      return "ip4";
    case Family::kIp6:
      return "ip6";
    case Family::kAny:
      break;
  }
  return "any";
}

std::string_view TargetFileFormatName(TargetFileFormat f) {
  return f == TargetFileFormat::kFileSd ? "file_sd" : "lines";
}

std::string Error::ToString() const {
  std::string out = file;
  if (position.line != 0) {
    out += ":" + std::to_string(position.line);
    if (position.column != 0) out += ":" + std::to_string(position.column);
  }
  out += ": " + message;
  return out;
}

ParseResult Parse(std::string_view toml_text, std::string_view source_name) {
  // toml++ reports syntax errors by exception; nothing else here throws except on
  // allocation failure, which is reported as an Error too so callers never see one.
  try {
    toml::table root = toml::parse(toml_text, source_name);
    Validator validator(source_name);
    if (Status st = validator.Run(root)) return ToResult(source_name, std::move(*st));
    return validator.Take();
  } catch (const toml::parse_error& e) {
    return ToResult(source_name,
                    MakeFail(PosOf(e.source()), "invalid TOML: " + std::string(e.description())));
  } catch (const std::exception& e) {
    return ToResult(source_name, MakeFail({}, std::string("cannot parse: ") + e.what()));
  }
}

ParseResult LoadFile(const std::string& path) {
  auto fail = [&path](std::string message) -> ParseResult {
    return MakeUnexpected(Error{path, {}, std::move(message)});
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail("cannot read: " + std::generic_category().message(errno));
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot read: " + std::generic_category().message(errno));
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > kMaxFileBytes) {
      return fail("cannot read: file is larger than " + std::to_string(kMaxFileBytes >> 20) +
                  " MiB");
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return Parse(text, path);
}

std::string_view EmbeddedDefaultToml() { return kEmbeddedDefault; }

ParseResult LoadEmbeddedDefault() { return Parse(kEmbeddedDefault, "<embedded default>"); }

std::vector<double> DefaultRttBuckets() {
  // Four bounds a decade (≈ ×1.78 each), rounded to two digits so `le` labels stay readable.
  return {0.0001, 0.00018, 0.00032, 0.00056, 0.001, 0.0018, 0.0032, 0.0056, 0.01, 0.018, 0.032,
          0.056,  0.1,     0.18,    0.32,    0.56,  1,      1.8,    3.2,    5.6,  10};
}

// Literals are read by IpAddress::Parse, as the resolver reads them.
SharedProbeOptions::SharedProbeOptions() {
  // One defaults object for every default-constructed value: BuildPlans makes 100 000.
  static const std::shared_ptr<const ProbeOptions> kDefaults = std::make_shared<ProbeOptions>();
  p_ = kDefaults;
}

SharedProbeOptions::SharedProbeOptions(ProbeOptions options)
    : p_(std::make_shared<const ProbeOptions>(std::move(options))) {}

std::string AddressKey(const IpAddress& ip) {
  // A leading NUL cannot start a host name, so address keys never equal name keys.
  std::string key(1, '\0');
  if (ip.is_v4()) {
    key.append(reinterpret_cast<const char*>(&ip.v4()), sizeof(in_addr));
  } else {
    key.append(reinterpret_cast<const char*>(&ip.v6()), sizeof(in6_addr));
  }
  return key;
}

std::string HostKey(std::string_view host) {
  if (std::optional<IpAddress> ip = IpAddress::Parse(host)) return AddressKey(*ip);
  std::string out;
  out.reserve(host.size());
  for (char c : host) out += Lower(c);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::string CanonicalHost(std::string_view host) {
  if (std::optional<IpAddress> ip = IpAddress::Parse(host)) return ip->ToString();
  std::string out;
  for (char c : host) out += Lower(c);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// '_' is allowed because some internal zones use it.
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 254) return false;
  if (s.back() == '.') s.remove_suffix(1);
  size_t label_len = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label_len == 0 || label_len > 63) return false;
      if (s[i - 1] == '-' || s[i - label_len] == '-') return false;
      label_len = 0;
      continue;
    }
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
    ++label_len;
  }
  // A numeric last label ("127.1") is not a DNS name, and getaddrinfo would read it as an
  // abbreviated IPv4 address behind the family check's back.
  size_t last = s.rfind('.');
  std::string_view tld = last == std::string_view::npos ? s : s.substr(last + 1);
  return !std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

bool IsReservedLabel(std::string_view s) { return Contains(kReservedLabels, s); }

}  // namespace ping_exporter::config
