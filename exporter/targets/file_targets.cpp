#include "targets/file_targets.h"

#include <algorithm>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "common/file.h"
#include "common/host_name.h"
#include "common/ip_address.h"
#include "common/text.h"
#include "targets/doc_events.h"
#include "targets/json.h"
#include "targets/yaml_events.h"

namespace ping_exporter::targets {
namespace {

// Guards against endless files such as /dev/zero; real target lists are far smaller.
constexpr size_t kMaxFileBytes = 64u << 20;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

using doc::Kind;

/// A failure before the file name is attached.
struct Fail {
  config::SourcePosition position;
  std::string message;
};

config::Error ToError(std::string_view path, Fail fail) {
  return config::Error{std::string(path), fail.position, std::move(fail.message)};
}

config::SourcePosition Pos(const doc::Position& p) { return {p.line, p.column}; }

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

/// The names of one group's labels, for a duplicate check in linear time (80 000 labels in one
/// group took 12 s with a scan) and little memory: open addressing over indices into the
/// labels list, 4 to 8 bytes a name where a set of strings took 70.
class NameSet {
 public:
  /// Adds `labels[index].first` unless an earlier entry has that name; false if one has.
  bool Insert(const config::Labels& labels, uint32_t index) {
    if (2 * (count_ + 1) > slots_.size()) Grow(labels);
    uint32_t* slot = Find(labels, labels[index].first);
    if (*slot != 0) return false;
    *slot = index + 1;
    ++count_;
    return true;
  }
  void Clear() {
    slots_.clear();
    count_ = 0;
  }

 private:
  // The slot holding `name`, or the empty one where it belongs.
  uint32_t* Find(const config::Labels& labels, std::string_view name) {
    size_t mask = slots_.size() - 1;
    for (size_t i = std::hash<std::string_view>()(name) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == 0 || labels[slots_[i] - 1].first == name) return &slots_[i];
    }
  }
  void Grow(const config::Labels& labels) {
    std::vector<uint32_t> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, 2 * old.size()), 0);
    for (uint32_t entry : old) {
      if (entry != 0) *Find(labels, labels[entry - 1].first) = entry;
    }
  }

  std::vector<uint32_t> slots_;  // 1 + index into the labels; 0: empty
  size_t count_ = 0;
};

/// The file_sd schema, checked as the JSON or YAML reader streams the document in: a list of
/// groups, each a map with "targets" (a list of strings) and "labels" (a map of strings). Only
/// the targets kept and the current group's labels are held, so memory follows what is kept,
/// and every check is linear. Stops at the first problem. Single use; not thread-safe.
class FileSdBuilder final : public doc::Sink {
 public:
  bool Begin(Kind kind, doc::Position at) override {
    switch (state_) {
      case State::kTop:
        if (kind != Kind::kList) return Value(kind, at);
        state_ = State::kGroups;
        return true;
      case State::kGroups:
        if (kind != Kind::kMap) return Value(kind, at);
        StartGroup();
        return true;
      case State::kGroupKey:
        return GroupKey(kind, {}, at);
      case State::kLabelName:
        return LabelName(kind, {}, at);
      case State::kGroupValue:
        if (key_ == Key::kTargets && kind == Kind::kList) {
          state_ = State::kTargets;
          return true;
        }
        if (key_ == Key::kLabels && kind == Kind::kMap) {
          state_ = State::kLabelName;
          return true;
        }
        return Value(kind, at);
      case State::kTargets:
      case State::kLabelValue:
      case State::kDone:
        return Value(kind, at);
    }
    return true;
  }

  bool End() override {
    switch (state_) {
      case State::kGroups:
        state_ = State::kDone;
        return true;
      case State::kGroupKey:
        EndGroup();
        state_ = State::kGroups;
        return true;
      case State::kTargets:
      case State::kLabelName:
        state_ = State::kGroupKey;
        return true;
      default:
        return true;  // never reached: Begin() accepts no other container
    }
  }

  bool Scalar(Kind kind, std::string_view text, doc::Position at) override {
    switch (state_) {
      case State::kGroupKey:
        return GroupKey(kind, text, at);
      case State::kLabelName:
        return LabelName(kind, text, at);
      case State::kGroupValue:
        if (kind != Kind::kNull) return Value(kind, at);
        state_ = State::kGroupKey;  // "targets: null" or "labels: null": none
        return true;
      case State::kTargets:
        return Target(kind, text, at);
      case State::kLabelValue:
        return LabelValue(kind, text, at);
      case State::kTop:
        if (kind != Kind::kNull) return Value(kind, at);
        state_ = State::kDone;  // "null", or an empty YAML document: no groups
        return true;
      case State::kGroups:
      case State::kDone:
        return Value(kind, at);
    }
    return true;
  }

  const std::optional<targets::Fail>& failure() const { return failure_; }
  FileTargets Take() { return std::move(out_); }

 private:
  // Where the next value goes.
  enum class State {
    kTop,         // the document itself: a list of groups (or null)
    kGroups,      // a group of the list
    kGroupKey,    // a key of a group: "targets" or "labels"
    kGroupValue,  // the value of key_
    kTargets,     // a string of a group's targets
    kLabelName,   // a key of a group's labels
    kLabelValue,  // the value of the last label in labels_
    kDone,        // nothing more is expected
  };
  enum class Key { kTargets, kLabels };

  bool Fail(doc::Position at, std::string message) {
    failure_ = targets::Fail{Pos(at), std::move(message)};
    return false;
  }

  /// A value of the wrong kind where the state expects another: the message says what was due.
  bool Value(Kind kind, doc::Position at) {
    std::string got = ", got " + std::string(KindName(kind));
    switch (state_) {
      case State::kTop:
        return Fail(at,
                    "expected a list of target groups such as [{\"targets\": [\"host\"], "
                    "\"labels\": {}}]" +
                        got);
      case State::kGroups:
        return Fail(at, GroupPath() +
                            ": expected a target group {\"targets\": [...], \"labels\": {...}}" +
                            got);
      case State::kGroupValue:
        if (key_ == Key::kTargets)
          return Fail(at, where_ + ".targets: expected a list of strings" + got);
        return Fail(at, where_ + ".labels: expected a map of label names to values" + got);
      case State::kTargets:
        return Fail(at,
                    TargetPath() + ": expected a string such as \"host\" or \"host:port\"" + got);
      case State::kLabelValue:
        return Fail(at, LabelPath() + ": expected a string label value" + got);
      case State::kGroupKey:
      case State::kLabelName:
      case State::kDone:
        break;
    }
    return Fail(at, "unexpected " + std::string(KindName(kind)) + " after the list of groups");
  }

  std::string GroupPath() const {
    // Built by appending: GCC 12 warns falsely (-Wrestrict) on "[" + std::string.
    std::string path = "[";
    path += std::to_string(group_index_);
    path += ']';
    return path;
  }
  // "[i].labels.name" of the label being read; Escaped(): a name has no length limit, a
  // message must have one.
  std::string LabelPath() const { return where_ + ".labels." + Escaped(labels_.back().first); }
  std::string TargetPath() const {
    return where_ + ".targets[" + std::to_string(target_index_) + "]";
  }

  void StartGroup() {
    state_ = State::kGroupKey;
    where_ = GroupPath();
    seen_targets_ = seen_labels_ = false;
    target_index_ = 0;
    group_start_ = out_.size();
    labels_.clear();
    label_names_.Clear();
  }

  // The group's labels are known only at its end (they may follow its targets).
  void EndGroup() {
    ++group_index_;
    // Service discovery metadata (__meta_*, __address__, ...) is Prometheus-internal; such
    // names were kept until now only for the duplicate check.
    labels_.erase(std::remove_if(labels_.begin(), labels_.end(),
                                 [](const auto& label) { return IsDropped(label.first); }),
                  labels_.end());
    if (labels_.empty()) return;
    std::sort(labels_.begin(), labels_.end());
    out_.Label(group_start_, std::make_shared<const config::Labels>(std::move(labels_)));
    labels_ = {};
  }

  bool GroupKey(Kind kind, std::string_view key, doc::Position at) {
    if (kind != Kind::kString) {
      return Fail(at, where_ + ": expected a string key, got " + std::string(KindName(kind)));
    }
    bool* seen = key == "targets" ? &seen_targets_ : key == "labels" ? &seen_labels_ : nullptr;
    if (seen == nullptr) {
      return Fail(at,
                  where_ + ": unknown key " + Quote(key) + " (expected \"targets\" or \"labels\")");
    }
    if (*seen) return Fail(at, where_ + ": duplicate key " + Quote(key));
    *seen = true;
    key_ = key == "targets" ? Key::kTargets : Key::kLabels;
    state_ = State::kGroupValue;
    return true;
  }

  bool Target(Kind kind, std::string_view text, doc::Position at) {
    if (kind != Kind::kString) return Value(kind, at);
    // Bytes no host can hold are named first: the forms below would hide them.
    if (UnprintableReason(text)) return Fail(at, TargetPath() + ": " + NotAHost(text));
    std::optional<std::string> host = HostOfTarget(text);
    if (!host) {
      return Fail(at, TargetPath() + ": " + Quote(text) +
                          " is not \"host\", \"host:port\" or \"[ipv6]:port\"");
    }
    if (!IsHost(*host)) return Fail(at, TargetPath() + ": " + NotAHost(*host));
    out_.Add(*host, at.line, at.column);
    ++target_index_;
    return true;
  }

  bool LabelName(Kind kind, std::string_view name, doc::Position at) {
    auto path = [this] { return where_ + ".labels"; };
    if (kind != Kind::kString) {
      return Fail(at, path() + ": expected a string key, got " + std::string(KindName(kind)));
    }
    if (!config::IsLabelName(name)) {
      return Fail(at, path() + ": " + Quote(name) +
                          " is not a valid label name (expected [a-zA-Z_][a-zA-Z0-9_]*)");
    }
    labels_.emplace_back(name, std::string());
    if (!label_names_.Insert(labels_, static_cast<uint32_t>(labels_.size() - 1))) {
      return Fail(at, path() + ": duplicate label name " + Quote(name));
    }
    if (!IsDropped(name) && config::IsReservedLabel(name)) {
      return Fail(at, path() + ": label name " + Quote(name) +
                          " is reserved (the exporter or Prometheus sets it)");
    }
    state_ = State::kLabelValue;
    return true;
  }

  bool LabelValue(Kind kind, std::string_view value, doc::Position at) {
    if (kind != Kind::kString) return Value(kind, at);
    state_ = State::kLabelName;
    auto& [name, text] = labels_.back();
    if (IsDropped(name)) return true;  // never shown: any value will do
    if (std::optional<std::string> why = UnprintableReason(value)) {
      return Fail(
          at, LabelPath() + ": " + Quote(value) + " must be printable UTF-8 text (" + *why + ")");
    }
    text = value;
    return true;
  }

  // Service discovery metadata (__meta_*, __address__, ...) is Prometheus-internal.
  static bool IsDropped(std::string_view name) {
    return name.size() >= 2 && name[0] == '_' && name[1] == '_';
  }

  State state_ = State::kTop;
  Key key_ = Key::kTargets;
  size_t group_index_ = 0;
  size_t target_index_ = 0;
  std::string where_;  // "[i]", the group being read
  bool seen_targets_ = false;
  bool seen_labels_ = false;
  size_t group_start_ = 0;  // its first target in out_
  config::Labels labels_;   // its labels so far, "__" ones too; the last one's value comes next
  NameSet label_names_;
  std::optional<targets::Fail> failure_;
  FileTargets out_;
};

bool EndsWithJson(std::string_view path) {
  if (path.size() < 5) return false;
  std::string ext(path.substr(path.size() - 5));
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext == ".json";
}

}  // namespace

FileTarget FileTargets::operator[](size_t i) const {
  const Entry& e = entries_[i];
  return FileTarget{std::string_view(hosts_).substr(e.offset, e.size),
                    e.labels == 0 ? nullptr : label_sets_[e.labels - 1].get(), e.line, e.column};
}

void FileTargets::Add(std::string_view host, uint32_t line, uint32_t column) {
  entries_.push_back(Entry{static_cast<uint32_t>(hosts_.size()), line, column, 0,
                           static_cast<uint16_t>(host.size())});
  hosts_.append(host);
}

void FileTargets::Label(size_t first, std::shared_ptr<const config::Labels> labels) {
  label_sets_.push_back(std::move(labels));
  for (size_t i = first; i < entries_.size(); ++i) {
    entries_[i].labels = static_cast<uint32_t>(label_sets_.size());
  }
}

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
          std::string message = NotAHost(host);
          if (host.find_first_of(" \t") != std::string_view::npos) {
            message += " (one host a line)";
          }
          return MakeUnexpected(ToError(path, Fail{{line_number, column}, std::move(message)}));
        }
        out.Add(host, line_number, column);
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
    FileSdBuilder builder;
    doc::ReadResult read = json ? json::Parse(text, builder) : yaml::Parse(text, builder);
    if (!read) {
      const doc::ParseError& e = read.error();
      return MakeUnexpected(ToError(
          path, Fail{Pos(e.position), (json ? "invalid JSON: " : "invalid YAML: ") + e.message}));
    }
    if (builder.failure()) return MakeUnexpected(ToError(path, *builder.failure()));
    return builder.Take();
  } catch (const std::bad_alloc&) {
    // The caller keeps the last good list.
    return MakeUnexpected(ToError(path, Fail{{}, "out of memory"}));
  }
}

FileParseResult ParseTargetFile(std::string_view text, std::string_view path,
                                config::TargetFileFormat format) {
  if (format == config::TargetFileFormat::kLines) return ParseLines(text, path);
  return ParseFileSd(text, path, EndsWithJson(path));
}

Expected<std::string, std::string> ReadWholeFile(const std::string& path, FileFacts* facts) {
  Expected<std::string, std::string> text = ReadFileCapped(path, kMaxFileBytes, facts);
  if (!text) return MakeUnexpected("cannot read: " + text.error());
  return text;
}

}  // namespace ping_exporter::targets
