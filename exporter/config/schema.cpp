#include "config/schema.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/ip_address.h"
#include "common/text.h"

namespace ping_exporter::config::detail {

// ---- how an option's value is checked ----

/// A duration string greater than zero.
struct PositiveDuration {};
/// An integer in min..max: "N is out of range (expected min..max)".
struct IntRange {
  int64_t min;
  int64_t max;
};
/// A size in bytes: "N is below the minimum of min bytes (<why>)" / "above the maximum".
struct ByteSize {
  int64_t min;
  int64_t max;
  std::string_view why_min;
};
/// true or false.
struct Flag {};
/// A string; `check` returns what is wrong with it (quoting it), or nullopt if it is fine.
struct Text {
  std::string_view expected;  ///< for the type error: "a string (...)"
  std::optional<std::string> (*check)(std::string_view);
};
/// One of a few words, stored as the enum whose values are their positions.
struct Word {
  std::span<const std::string_view> words;
};
/// A non-empty, strictly increasing array of positive finite seconds (histogram bounds).
struct Bounds {};
/// A number greater than `above` and at most `max`; `what` says what it is in messages.
struct Number {
  double above;
  double max;
  std::string_view what;
};
using Rule = std::variant<PositiveDuration, IntRange, ByteSize, Flag, Text, Word, Bounds, Number>;

/// Where the value lands in ProbeOptions.
using Field =
    std::variant<Duration ProbeOptions::*, uint32_t ProbeOptions::*,
                 std::optional<uint8_t> ProbeOptions::*, std::optional<uint32_t> ProbeOptions::*,
                 bool ProbeOptions::*, std::string ProbeOptions::*,
                 metrics::RttHistogram ProbeOptions::*, metrics::Profile ProbeOptions::*,
                 std::vector<double> ProbeOptions::*, double ProbeOptions::*>;

struct OptionKey {
  std::string_view name;
  Rule rule;
  Field field;
};

namespace {

// Limits that the rest of the exporter relies on.
constexpr int64_t kMaxCount = 64;
constexpr int64_t kMinPayload = 32;  // the probe cookie (slot, sequence, send time, token)
constexpr int64_t kMaxPayload = 65000;
// Linux interface names: IFNAMSIZ (16) including the terminating NUL.
constexpr size_t kMaxInterfaceName = 15;
constexpr int64_t kMaxFwmark = 0xffffffffLL;

std::optional<std::string> CheckSourceAddress(std::string_view s) {
  if (s.empty() || IpAddress::Parse(s)) return std::nullopt;
  return Quote(s) + " is not an IP address (expected e.g. \"127.0.0.1\" or \"::1\")";
}

// SO_BINDTODEVICE names; the kernel also refuses "." and "..". "" means any interface.
std::optional<std::string> CheckInterface(std::string_view s) {
  if (s.size() > kMaxInterfaceName) {
    return Quote(s) + " is " + std::to_string(s.size()) +
           " characters long (an interface name has at most " + std::to_string(kMaxInterfaceName) +
           ")";
  }
  bool valid = s != "." && s != ".." && std::all_of(s.begin(), s.end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
               });
  if (s.empty() || valid) return std::nullopt;
  return Quote(s) +
         " is not an interface name (expected letters, digits, '_', '.' or '-', such as "
         "\"eth0\")";
}

// The words of the enum options, at the positions of their values.
constexpr std::array<std::string_view, 3> kRttHistogramWords = {
    metrics::RttHistogramName(metrics::RttHistogram::kNative),
    metrics::RttHistogramName(metrics::RttHistogram::kClassic),
    metrics::RttHistogramName(metrics::RttHistogram::kBoth)};
constexpr std::array<std::string_view, 3> kProfileWords = {
    metrics::ProfileName(metrics::Profile::kMinimal),
    metrics::ProfileName(metrics::Profile::kDefault),
    metrics::ProfileName(metrics::Profile::kFull)};
// Native buckets' growth factor: schema 8 is finer than any factor above 1.0027, schema -4
// (factor 65536) the coarsest Prometheus knows.
constexpr double kMaxBucketFactor = 65536;

// The probe options, in the order messages list them.
constexpr std::array<OptionKey, kOptionCount> kOptions = {{
    {"interval", PositiveDuration{}, &ProbeOptions::interval},
    {"timeout", PositiveDuration{}, &ProbeOptions::timeout},
    {"spacing", PositiveDuration{}, &ProbeOptions::spacing},
    {"count", IntRange{1, kMaxCount}, &ProbeOptions::count},
    {"payload_size", ByteSize{kMinPayload, kMaxPayload, "the probe cookie needs them"},
     &ProbeOptions::payload_size},
    {"ttl", IntRange{1, 255}, &ProbeOptions::ttl},
    {"tos", IntRange{0, 255}, &ProbeOptions::tos},
    {"dont_fragment", Flag{}, &ProbeOptions::dont_fragment},
    {"source_address", Text{"a string", CheckSourceAddress}, &ProbeOptions::source_address},
    {"resolve_interval", PositiveDuration{}, &ProbeOptions::resolve_interval},
    {"resolve_timeout", PositiveDuration{}, &ProbeOptions::resolve_timeout},
    {"interface", Text{"a string (an interface name such as \"eth0\")", CheckInterface},
     &ProbeOptions::interface},
    {"fwmark", IntRange{0, kMaxFwmark}, &ProbeOptions::fwmark},
    {"rtt_histogram", Word{kRttHistogramWords}, &ProbeOptions::rtt_histogram},
    {"rtt_buckets", Bounds{}, &ProbeOptions::rtt_buckets},
    {"rtt_bucket_factor",
     Number{1, kMaxBucketFactor, "the largest growth factor between native buckets, e.g. 1.1"},
     &ProbeOptions::rtt_bucket_factor},
    {"metrics", Word{kProfileWords}, &ProbeOptions::metrics},
}};

// Every rule yields what its field holds, and integer ranges fit their field.
template <typename T>
constexpr bool FitsField(const Rule& rule) {
  auto fits = [&](int64_t max) {
    const auto* r = std::get_if<IntRange>(&rule);
    const auto* b = std::get_if<ByteSize>(&rule);
    return (r && r->min >= 0 && r->max <= max) || (b && b->min >= 0 && b->max <= max);
  };
  if constexpr (std::is_same_v<T, Duration>) return std::holds_alternative<PositiveDuration>(rule);
  if constexpr (std::is_same_v<T, bool>) return std::holds_alternative<Flag>(rule);
  if constexpr (std::is_same_v<T, std::string>) return std::holds_alternative<Text>(rule);
  if constexpr (std::is_same_v<T, std::vector<double>>) return std::holds_alternative<Bounds>(rule);
  if constexpr (std::is_same_v<T, double>) return std::holds_alternative<Number>(rule);
  if constexpr (std::is_same_v<T, metrics::RttHistogram>) {
    const auto* w = std::get_if<Word>(&rule);
    return w && w->words.data() == kRttHistogramWords.data();
  }
  if constexpr (std::is_same_v<T, metrics::Profile>) {
    const auto* w = std::get_if<Word>(&rule);
    return w && w->words.data() == kProfileWords.data();
  }
  if constexpr (std::is_same_v<T, uint32_t> || std::is_same_v<T, std::optional<uint32_t>>) {
    return fits(std::numeric_limits<uint32_t>::max());
  }
  if constexpr (std::is_same_v<T, std::optional<uint8_t>>) {
    return fits(std::numeric_limits<uint8_t>::max());
  }
  return false;
}
constexpr bool RulesFitFields() {
  for (const OptionKey& k : kOptions) {
    bool ok = std::visit(
        [&](auto member) {
          return FitsField<std::remove_cvref_t<decltype(ProbeOptions{}.*member)>>(k.rule);
        },
        k.field);
    if (!ok) return false;
  }
  return true;
}
static_assert(RulesFitFields(), "an option's rule does not fit its ProbeOptions field");

constexpr size_t OptionIndex(std::string_view name) {
  for (size_t i = 0; i < kOptions.size(); ++i) {
    if (kOptions[i].name == name) return i;
  }
  return kOptions.size();
}
constexpr size_t kInterval = OptionIndex("interval");
constexpr size_t kTimeout = OptionIndex("timeout");
constexpr size_t kSpacing = OptionIndex("spacing");
constexpr size_t kCount = OptionIndex("count");
constexpr size_t kResolveInterval = OptionIndex("resolve_interval");
constexpr size_t kResolveTimeout = OptionIndex("resolve_timeout");
static_assert(kResolveTimeout < kOptions.size() && kCount < kOptions.size());

/// A checked value, before it is stored in its field (a Word as its position).
using Value = std::variant<Duration, int64_t, bool, std::string, std::vector<double>, double>;

// "a", "b" or "c"
std::string WordList(std::span<const std::string_view> words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += Quote(words[i]);
  }
  return out;
}

// A TOML float, or an integer as a double; nullopt for any other node.
std::optional<double> NumberOf(const toml::node& node) {
  if (const toml::value<double>* f = node.as_floating_point()) return f->get();
  if (const toml::value<int64_t>* n = node.as_integer()) return static_cast<double>(n->get());
  return std::nullopt;
}

Status ReadBounds(const toml::node& node, std::string_view path, std::vector<double>& out) {
  const toml::array* arr = node.as_array();
  if (!arr) return TypeFail(node, path, "an array of numbers (seconds)");
  if (arr->empty()) {
    return Fail{PosOf(node), std::string(path) +
                                 ": must not be empty (omit the key to use the default buckets)"};
  }
  if (arr->size() > metrics::kMaxRttBuckets) {
    return Fail{PosOf(node), std::string(path) + ": " + std::to_string(arr->size()) +
                                 " bounds, more than the " +
                                 std::to_string(metrics::kMaxRttBuckets) + " a histogram may have"};
  }
  std::vector<double> bounds;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string at = Index(path, i);
    std::optional<double> number = NumberOf(e);
    if (!number) return TypeFail(e, at, "a number of seconds");
    const double v = *number;
    if (!std::isfinite(v)) {
      return Fail{PosOf(e), at + ": must be a finite number (the +Inf bucket is implicit)"};
    }
    if (v <= 0) return Fail{PosOf(e), at + ": " + FormatNumber(v) + " must be greater than zero"};
    if (!bounds.empty() && v <= bounds.back()) {
      return Fail{PosOf(e),
                  at + ": " + FormatNumber(v) + " is not greater than the previous bucket " +
                      FormatNumber(bounds.back()) + " (buckets must be strictly increasing)"};
    }
    bounds.push_back(v);
  }
  out = std::move(bounds);
  return std::nullopt;
}

Status ReadValue(const Rule& rule, const toml::node& node, std::string_view path, Value& out) {
  if (std::holds_alternative<PositiveDuration>(rule)) {
    Duration d{};
    Status st = ReadDuration(node, path, d);
    out = d;
    return st;
  }
  if (const IntRange* range = std::get_if<IntRange>(&rule)) {
    int64_t n = 0;
    Status st = ReadInt(node, path, range->min, range->max, "", n);
    out = n;
    return st;
  }
  if (const ByteSize* size = std::get_if<ByteSize>(&rule)) {
    const toml::value<int64_t>* v = node.as_integer();
    if (!v) return TypeFail(node, path, "an integer");
    std::string prefix = std::string(path) + ": " + std::to_string(v->get());
    if (v->get() < size->min) {
      return Fail{PosOf(node), prefix + " is below the minimum of " + std::to_string(size->min) +
                                   " bytes (" + std::string(size->why_min) + ")"};
    }
    if (v->get() > size->max) {
      return Fail{PosOf(node),
                  prefix + " is above the maximum of " + std::to_string(size->max) + " bytes"};
    }
    out = v->get();
    return std::nullopt;
  }
  if (std::holds_alternative<Flag>(rule)) {
    bool b = false;
    Status st = ReadBool(node, path, b);
    out = b;
    return st;
  }
  if (const Word* word = std::get_if<Word>(&rule)) {
    const toml::value<std::string>* v = node.as_string();
    if (!v) return TypeFail(node, path, "a string (" + WordList(word->words) + ")");
    auto at = std::find(word->words.begin(), word->words.end(), v->get());
    if (at == word->words.end()) {
      return Fail{PosOf(node), std::string(path) + ": " + Quote(v->get()) + " is not one of " +
                                   WordList(word->words)};
    }
    out = static_cast<int64_t>(at - word->words.begin());
    return std::nullopt;
  }
  if (std::holds_alternative<Bounds>(rule)) {
    std::vector<double> bounds;
    Status st = ReadBounds(node, path, bounds);
    out = std::move(bounds);
    return st;
  }
  if (const Number* number = std::get_if<Number>(&rule)) {
    std::optional<double> given = NumberOf(node);
    if (!given) return TypeFail(node, path, "a number (" + std::string(number->what) + ")");
    const double v = *given;
    if (!(v > number->above && v <= number->max)) {
      return Fail{PosOf(node), std::string(path) + ": " + FormatNumber(v) +
                                   " is out of range (expected more than " +
                                   FormatNumber(number->above) + " and at most " +
                                   FormatNumber(number->max) + ": " + std::string(number->what) +
                                   ")"};
    }
    out = v;
    return std::nullopt;
  }
  const Text& text = std::get<Text>(rule);
  const toml::value<std::string>* v = node.as_string();
  if (!v) return TypeFail(node, path, text.expected);
  if (std::optional<std::string> wrong = text.check(v->get())) {
    return Fail{PosOf(node), std::string(path) + ": " + *wrong};
  }
  out = v->get();
  return std::nullopt;
}

template <typename T>
struct IntegerOf {
  using type = T;
};
template <typename T>
struct IntegerOf<std::optional<T>> {
  using type = T;
};

void Store(const Field& field, Value value, ProbeOptions& options) {
  std::visit(
      [&](auto member) {
        using T = std::remove_cvref_t<decltype(options.*member)>;
        if constexpr (std::is_same_v<T, Duration>) {
          options.*member = std::get<Duration>(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          options.*member = std::get<bool>(value);
        } else if constexpr (std::is_same_v<T, std::string>) {
          options.*member = std::move(std::get<std::string>(value));
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          options.*member = std::move(std::get<std::vector<double>>(value));
        } else if constexpr (std::is_same_v<T, double>) {
          options.*member = std::get<double>(value);
        } else if constexpr (std::is_enum_v<T>) {
          options.*member = static_cast<T>(std::get<int64_t>(value));  // a Word's position
        } else {
          // An integer field (plain or optional); RulesFitFields() proved the range fits.
          options.*member = static_cast<typename IntegerOf<T>::type>(std::get<int64_t>(value));
        }
      },
      field);
}

// ---- relations between options ----

std::string Described(const OptionSet& set, size_t option, const std::string& value, Scope scope) {
  std::string out = std::string(kOptions[option].name) + " " + value;
  const Origin& origin = set.origins[option];
  if (origin.scope == scope) return out;
  if (origin.scope == Scope::kDefaults) return out + " (from [defaults])";
  return out + " (built-in default)";
}

// Picks where to point a cross-field error: the first candidate set in this very scope,
// else the first set anywhere, else the table itself.
SourcePosition Blame(const OptionSet& set, std::initializer_list<size_t> candidates, Scope scope,
                     SourcePosition fallback) {
  for (size_t i : candidates) {
    if (set.origins[i].scope == scope) return set.origins[i].position;
  }
  for (size_t i : candidates) {
    if (set.origins[i].scope != Scope::kBuiltin) return set.origins[i].position;
  }
  return fallback;
}

// ---- which keys each table takes ----

// Top-level keys: settings, then the tables.
constexpr std::string_view kTopSettings[] = {"workers", "rtt_buckets", "group_label"};
constexpr std::string_view kTopTables[] = {"defaults", "targets", "target_files"};
// Keys of a [[targets]] and of a [[target_files]] table besides the probe options.
constexpr std::string_view kGroupKeys[] = {"name",   "hosts",         "family",
                                           "labels", "all_addresses", "exclude_local"};
constexpr std::string_view kFileKeys[] = {"name",          "path",   "format",       "family",
                                          "all_addresses", "labels", "exclude_local"};

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view key) {
  return std::find(std::begin(list), std::end(list), key) != std::end(list);
}

// Where `key` belongs when `table` does not take it; "" when it belongs nowhere.
std::string MisplacedHint(Table table, std::string_view key) {
  bool option = FindOption(key) != nullptr;
  bool group = Contains(kGroupKeys, key);
  bool file = Contains(kFileKeys, key);
  std::string quoted = "\"" + std::string(key) + "\"";
  switch (table) {
    case Table::kTop:
      if (option) return "probe options go in [defaults] or [[targets]]";
      if (group) return "this key belongs in a [[targets]] group";
      if (file) return "this key belongs in a [[target_files]] table";
      break;
    case Table::kDefaults:
      if (group && file) {
        return quoted + " can only be set per [[targets]] group or [[target_files]] table";
      }
      if (group) return quoted + " can only be set per [[targets]] group";
      if (file) return quoted + " can only be set per [[target_files]] table";
      break;
    case Table::kGroup:
      if (Contains(kTopSettings, key)) return quoted + " is a top-level key";
      if (file) return quoted + " belongs in a [[target_files]] table";
      break;
    case Table::kFile:
      if (Contains(kTopSettings, key)) return quoted + " is a top-level key";
      if (key == "hosts") {
        return "hosts are read from the file; list hosts inline in a [[targets]] group";
      }
      break;
  }
  return "";
}

}  // namespace

const OptionKey* FindOption(std::string_view key) {
  size_t i = OptionIndex(key);
  return i < kOptions.size() ? &kOptions[i] : nullptr;
}

Status ReadOption(const OptionKey& option, const toml::node& node, std::string_view path,
                  Scope scope, OptionSet& set) {
  Value value;
  if (Status st = ReadValue(option.rule, node, path, value)) return st;
  Store(option.field, std::move(value), set.options);
  set.origins[static_cast<size_t>(&option - kOptions.data())] = Origin{scope, PosOf(node)};
  return std::nullopt;
}

Status CheckTiming(const OptionSet& set, std::string_view path, Scope scope,
                   SourcePosition table_position) {
  const ProbeOptions& o = set.options;
  std::string prefix = path.empty() ? std::string() : std::string(path) + ": ";
  if (o.timeout >= o.interval) {
    return Fail{Blame(set, {kTimeout, kInterval}, scope, table_position),
                prefix + Described(set, kTimeout, FormatDuration(o.timeout), scope) +
                    " must be less than " +
                    Described(set, kInterval, FormatDuration(o.interval), scope)};
  }
  if (o.resolve_timeout >= o.resolve_interval) {
    // A lookup must end before the next one of the same name is due.
    return Fail{Blame(set, {kResolveTimeout, kResolveInterval}, scope, table_position),
                prefix + Described(set, kResolveTimeout, FormatDuration(o.resolve_timeout), scope) +
                    " must be less than " +
                    Described(set, kResolveInterval, FormatDuration(o.resolve_interval), scope)};
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
    return Fail{Blame(set, {kSpacing, kCount, kTimeout, kInterval}, scope, table_position),
                prefix + "a round lasts (count-1)*spacing+timeout = (" + std::to_string(o.count) +
                    "-1)*" + FormatDuration(o.spacing) + "+" + FormatDuration(o.timeout) + " = " +
                    total + ", which must be less than " +
                    Described(set, kInterval, FormatDuration(o.interval), scope) +
                    "; lower count, spacing or timeout, or raise interval"};
  }
  return std::nullopt;
}

std::vector<std::string_view> KnownKeys(Table table) {
  std::vector<std::string_view> known;
  auto add = [&known](const auto& list) {
    for (std::string_view key : list) known.push_back(key);
  };
  switch (table) {
    case Table::kTop:
      add(kTopSettings);
      add(kTopTables);
      return known;
    case Table::kDefaults:
      break;
    case Table::kGroup:
      add(kGroupKeys);
      break;
    case Table::kFile:
      add(kFileKeys);
      break;
  }
  for (const OptionKey& option : kOptions) known.push_back(option.name);
  return known;
}

Fail UnknownKeyIn(Table table, const toml::key& key, std::string_view table_path) {
  return UnknownKey(key, table_path, KnownKeys(table), MisplacedHint(table, key.str()));
}

}  // namespace ping_exporter::config::detail
