#include "config/toml_read.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "common/text.h"

namespace ping_exporter::config::detail {
namespace {

bool Before(const SourcePosition& a, const SourcePosition& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
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

}  // namespace

SourcePosition PosOf(const toml::source_region& region) {
  return SourcePosition{region.begin.line, region.begin.column};
}
SourcePosition PosOf(const toml::node& node) { return PosOf(node.source()); }
SourcePosition PosOf(const toml::key& key) { return PosOf(key.source()); }

std::string PosText(const SourcePosition& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

Fail TypeFail(const toml::node& node, std::string_view path, std::string_view expected) {
  return Fail{PosOf(node), std::string(path) + ": expected " + std::string(expected) + ", got " +
                               std::string(TypeName(node))};
}

std::string FormatNumber(double v) {
  char buf[64];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::vector<std::pair<const toml::key*, const toml::node*>> InFileOrder(const toml::table& t) {
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (auto&& [key, node] : t) out.emplace_back(&key, &node);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return Before(PosOf(*a.first), PosOf(*b.first));
  });
  return out;
}

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
    return Fail{PosOf(node), std::move(msg)};
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
    return Fail{PosOf(node), std::string(path) + ": " + Quote(text) +
                                 " is not a duration (expected e.g. \"500ms\", \"1s\")"};
  }
  if (negative || d->count() <= 0) {
    return Fail{PosOf(node), std::string(path) + ": " + Quote(text) + " must be greater than zero"};
  }
  out = *d;
  return std::nullopt;
}

Status ReadBool(const toml::node& node, std::string_view path, bool& out) {
  const toml::value<bool>* v = node.as_boolean();
  if (!v) return TypeFail(node, path, "a boolean (true or false)");
  out = v->get();
  return std::nullopt;
}

Status ReadPrintable(const toml::node& node, std::string_view path, std::string_view expected,
                     std::string& out) {
  const toml::value<std::string>* v = node.as_string();
  if (!v) return TypeFail(node, path, expected);
  if (std::optional<std::string> why = UnprintableReason(v->get())) {
    return Fail{PosOf(node), std::string(path) + ": " + Quote(v->get()) +
                                 " must be printable UTF-8 text (" + *why + ")"};
  }
  out = v->get();
  return std::nullopt;
}

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
  return Fail{PosOf(key), std::move(msg)};
}

}  // namespace ping_exporter::config::detail
