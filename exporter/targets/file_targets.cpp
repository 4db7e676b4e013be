#include "targets/file_targets.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "common/file.h"
#include "common/host_name.h"
#include "common/ip_address.h"
#include "common/text.h"
#include "targets/json.h"

namespace ping_exporter::targets {
namespace {

// Guards against endless files such as /dev/zero; real target lists are far smaller.
constexpr size_t kMaxFileBytes = 64u << 20;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

using json::Value;
using Kind = json::Value::Kind;

/// A failure before the file name is attached.
struct Fail {
  config::SourcePosition position;
  std::string message;
};

config::Error ToError(std::string_view path, Fail fail) {
  return config::Error{std::string(path), fail.position, std::move(fail.message)};
}

config::SourcePosition Pos(const json::Position& p) { return {p.line, p.column}; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool ValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  uint32_t v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v <= 65535;
}

// ---- YAML: converted into the JSON tree so one schema check serves both ----

/// Converts a yaml-cpp document. Scalars of any style become strings (as Prometheus reads
/// label values); YAML null becomes null. Single use; not thread-safe.
class YamlConverter {
 public:
  // A YAML alias is shared by yaml-cpp but copied here. Without aliases every node takes at
  // least one byte of text, so a bound proportional to the size stops "billion laughs"
  // documents at once and never a real one.
  explicit YamlConverter(size_t text_size) : max_nodes_(2 * text_size + 64) {}

  std::optional<Fail> Convert(const YAML::Node& node, Value& out) {
    if (++nodes_ > max_nodes_) {
      return Fail{
          {}, "document expands to more than " + std::to_string(max_nodes_) + " nodes (aliases?)"};
    }
    YAML::Mark mark = node.Mark();
    if (!mark.is_null()) {
      out.position = {static_cast<uint32_t>(mark.line + 1), static_cast<uint32_t>(mark.column + 1)};
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = Kind::kNull;
        return std::nullopt;
      case YAML::NodeType::Scalar:
        out.kind = Kind::kString;
        out.text = node.Scalar();
        return std::nullopt;
      case YAML::NodeType::Sequence:
        out.kind = Kind::kArray;
        out.items.reserve(node.size());
        for (const YAML::Node& item : node) {
          out.items.emplace_back();
          if (std::optional<Fail> f = Convert(item, out.items.back())) return f;
        }
        return std::nullopt;
      case YAML::NodeType::Map:
        out.kind = Kind::kObject;
        for (const auto& entry : node) {
          json::Member m;
          const YAML::Node& key = entry.first;
          Value key_value;
          if (std::optional<Fail> f = Convert(key, key_value)) return f;
          m.key_position = key_value.position;
          if (key_value.kind != Kind::kString) {
            return Fail{Pos(key_value.position), "expected a string key"};
          }
          m.key = std::move(key_value.text);
          if (std::optional<Fail> f = Convert(entry.second, m.value)) return f;
          out.members.push_back(std::move(m));
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  size_t max_nodes_;
  size_t nodes_ = 0;
};

// ---- the file_sd schema ----

/// Checks one file_sd document and collects its targets. Single use; not thread-safe.
class FileSdReader {
 public:
  std::optional<Fail> Run(const Value& root) {
    if (root.kind == Kind::kNull) return std::nullopt;  // an empty YAML file
    if (root.kind != Kind::kArray) {
      return Fail{Pos(root.position),
                  "expected a list of target groups such as [{\"targets\": [\"host\"], "
                  "\"labels\": {}}], got " +
                      std::string(json::KindName(root.kind))};
    }
    for (size_t i = 0; i < root.items.size(); ++i) {
      // Built by appending: GCC 12 warns falsely (-Wrestrict) on "[" + std::string.
      std::string where = "[";
      where += std::to_string(i);
      where += ']';
      if (std::optional<Fail> f = Group(root.items[i], where)) return f;
    }
    return std::nullopt;
  }

  FileTargets Take() { return std::move(out_); }

 private:
  std::optional<Fail> Group(const Value& group, const std::string& where) {
    if (group.kind != Kind::kObject) {
      return Fail{Pos(group.position),
                  where +
                      ": expected a target group {\"targets\": [...], \"labels\": {...}}, got " +
                      std::string(json::KindName(group.kind))};
    }
    const Value* targets = nullptr;
    const Value* labels = nullptr;
    for (const json::Member& m : group.members) {
      const Value** slot = m.key == "targets" ? &targets : m.key == "labels" ? &labels : nullptr;
      if (slot == nullptr) {
        return Fail{Pos(m.key_position), where + ": unknown key " + Quote(m.key) +
                                             " (expected \"targets\" or \"labels\")"};
      }
      if (*slot != nullptr) {
        return Fail{Pos(m.key_position), where + ": duplicate key " + Quote(m.key)};
      }
      *slot = &m.value;
    }
    config::Labels group_labels;
    if (labels != nullptr) {
      if (std::optional<Fail> f = Labels(*labels, where + ".labels", group_labels)) return f;
    }
    if (targets == nullptr || targets->kind == Kind::kNull) return std::nullopt;
    if (targets->kind != Kind::kArray) {
      return Fail{Pos(targets->position), where + ".targets: expected a list of strings, got " +
                                              std::string(json::KindName(targets->kind))};
    }
    for (size_t i = 0; i < targets->items.size(); ++i) {
      const Value& t = targets->items[i];
      std::string item = where + ".targets[" + std::to_string(i) + "]";
      if (t.kind != Kind::kString) {
        return Fail{Pos(t.position), item +
                                         ": expected a string such as \"host\" or "
                                         "\"host:port\", got " +
                                         std::string(json::KindName(t.kind))};
      }
      std::optional<std::string> host = HostOfTarget(t.text);
      if (!host) {
        return Fail{Pos(t.position), item + ": " + Quote(t.text) +
                                         " is not \"host\", \"host:port\" or \"[ipv6]:port\""};
      }
      if (!IsHost(*host)) {
        return Fail{Pos(t.position),
                    item + ": " + Quote(*host) + " is not an IP address or host name"};
      }
      out_.push_back(
          FileTarget{std::move(*host), group_labels, t.position.line, t.position.column});
    }
    return std::nullopt;
  }

  static std::optional<Fail> Labels(const Value& labels, const std::string& where,
                                    config::Labels& out) {
    if (labels.kind == Kind::kNull) return std::nullopt;
    if (labels.kind != Kind::kObject) {
      return Fail{Pos(labels.position), where + ": expected a map of label names to values, got " +
                                            std::string(json::KindName(labels.kind))};
    }
    std::vector<std::string_view> seen;
    for (const json::Member& m : labels.members) {
      const std::string& name = m.key;
      if (!config::IsLabelName(name)) {
        return Fail{Pos(m.key_position), where + ": " + Quote(name) +
                                             " is not a valid label name (expected "
                                             "[a-zA-Z_][a-zA-Z0-9_]*)"};
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        return Fail{Pos(m.key_position), where + ": duplicate label name " + Quote(name)};
      }
      seen.push_back(name);
      if (m.value.kind != Kind::kString) {
        return Fail{Pos(m.value.position), where + "." + name +
                                               ": expected a string label value, got " +
                                               std::string(json::KindName(m.value.kind))};
      }
      if (!IsValidUtf8(m.value.text)) {
        return Fail{Pos(m.value.position), where + "." + name + ": label value is not UTF-8"};
      }
      // Service discovery metadata (__meta_*, __address__, ...) is Prometheus-internal.
      if (name.size() >= 2 && name[0] == '_' && name[1] == '_') continue;
      if (config::IsReservedLabel(name)) {
        return Fail{Pos(m.key_position), where + ": label name " + Quote(name) +
                                             " is reserved (the exporter or Prometheus sets it)"};
      }
      out.emplace_back(name, m.value.text);
    }
    std::sort(out.begin(), out.end());
    return std::nullopt;
  }

  FileTargets out_;
};

bool EndsWithJson(std::string_view path) {
  if (path.size() < 5) return false;
  std::string ext(path.substr(path.size() - 5));
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext == ".json";
}

}  // namespace

std::optional<std::string> HostOfTarget(std::string_view target) {
  if (target.empty()) return std::nullopt;
  if (target.front() == '[') {
    size_t close = target.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    std::string_view inner = target.substr(1, close - 1);
    std::string_view rest = target.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !ValidPort(rest.substr(1)))) return std::nullopt;
    if (inner.find_first_of("[]") != std::string_view::npos) return std::nullopt;
    return std::string(inner);
  }
  // A bare IPv6 literal has colons but no port.
  if (IpAddress::Parse(target)) return std::string(target);
  size_t colon = target.find(':');
  if (colon == std::string_view::npos) {
    if (target.find_first_of("[]") != std::string_view::npos) return std::nullopt;
    return std::string(target);
  }
  if (target.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
  std::string_view host = target.substr(0, colon);
  if (host.empty() || !ValidPort(target.substr(colon + 1))) return std::nullopt;
  if (host.find_first_of("[]") != std::string_view::npos) return std::nullopt;
  return std::string(host);
}

FileParseResult ParseLines(std::string_view text, std::string_view path) {
  try {
    FileTargets out;
    uint32_t line_number = 0;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      ++line_number;
      size_t first = line_number == 1 && line.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
      size_t hash = line.find('#');
      if (hash != std::string_view::npos) line = line.substr(0, hash);
      while (first < line.size() && IsSpace(line[first])) ++first;
      size_t last = line.size();
      while (last > first && IsSpace(line[last - 1])) --last;
      if (last > first) {
        std::string_view host = line.substr(first, last - first);
        uint32_t column = static_cast<uint32_t>(first + 1);
        if (!IsHost(host)) {
          std::string message = Quote(host) + " is not an IP address or host name";
          if (host.find_first_of(" \t") != std::string_view::npos) {
            message += " (one host a line)";
          }
          return MakeUnexpected(ToError(path, Fail{{line_number, column}, std::move(message)}));
        }
        out.push_back(FileTarget{std::string(host), {}, line_number, column});
      }
      if (end == text.size()) break;
      start = end + 1;
    }
    return out;
  } catch (const std::bad_alloc&) {
    return MakeUnexpected(ToError(path, Fail{{}, "out of memory"}));
  }
}

FileParseResult ParseFileSd(std::string_view text, std::string_view path, bool json) {
  try {
    Value root;
    if (json) {
      Expected<Value, json::ParseError> parsed = json::Parse(text);
      if (!parsed) {
        const json::ParseError& e = parsed.error();
        return MakeUnexpected(ToError(path, Fail{Pos(e.position), "invalid JSON: " + e.message}));
      }
      root = std::move(*parsed);
    } else {
      YAML::Node doc;
      try {
        doc = YAML::Load(std::string(text));
      } catch (const YAML::Exception& e) {
        config::SourcePosition pos;
        if (!e.mark.is_null()) {
          pos = {static_cast<uint32_t>(e.mark.line + 1), static_cast<uint32_t>(e.mark.column + 1)};
        }
        return MakeUnexpected(ToError(path, Fail{pos, "invalid YAML: " + e.msg}));
      }
      YamlConverter converter(text.size());
      if (std::optional<Fail> f = converter.Convert(doc, root)) {
        return MakeUnexpected(ToError(path, std::move(*f)));
      }
    }
    FileSdReader reader;
    if (std::optional<Fail> f = reader.Run(root)) {
      return MakeUnexpected(ToError(path, std::move(*f)));
    }
    return reader.Take();
  } catch (const std::exception& e) {
    // yaml-cpp may throw from node access on malformed trees, and anything may run out of
    // memory: the caller keeps the last good list either way.
    return MakeUnexpected(ToError(path, Fail{{}, std::string("cannot parse: ") + e.what()}));
  }
}

FileParseResult ParseTargetFile(std::string_view text, std::string_view path,
                                config::TargetFileFormat format) {
  if (format == config::TargetFileFormat::kLines) return ParseLines(text, path);
  return ParseFileSd(text, path, EndsWithJson(path));
}

Expected<std::string, std::string> ReadWholeFile(const std::string& path) {
  Expected<std::string, std::string> text = ReadFileCapped(path, kMaxFileBytes);
  if (!text) return MakeUnexpected("cannot read: " + text.error());
  return text;
}

}  // namespace ping_exporter::targets
