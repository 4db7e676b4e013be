#include "config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/file.h"
#include "common/host_name.h"
#include "common/ip_address.h"
#include "common/text.h"
#include "config/schema.h"
#include "config/toml_read.h"

namespace ping_exporter::config {
namespace {

constexpr int64_t kMaxWorkers = 1024;
// Guards against reading endless files such as /dev/zero; real configs are far smaller.
constexpr size_t kMaxFileBytes = 64u << 20;

// Labels the exporter itself puts on series, or that Prometheus adds on scrape.
constexpr std::string_view kReservedLabels[] = {"target", "address", "group", "source",  "status",
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

}  // namespace

namespace detail {
namespace {

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
    const toml::node* defaults = nullptr;
    const toml::node* targets = nullptr;
    const toml::node* target_files = nullptr;
    for (const auto& [key, node] : InFileOrder(root)) {
      std::string_view k = key->str();
      Status st;
      if (k == "workers") {
        int64_t n = 0;
        st = ReadInt(*node, "workers", 0, kMaxWorkers, "0 means one per CPU core", n);
        config_.workers = static_cast<uint32_t>(n);
      } else if (k == "rtt_buckets") {
        // The older spelling of [defaults] rtt_buckets, which [defaults] may still override.
        st = ReadOption(*FindOption(k), *node, k, Scope::kDefaults, defaults_);
      } else if (k == "group_label") {
        st = ReadBool(*node, "group_label", config_.group_label);
      } else if (k == "defaults") {
        defaults = node;
      } else if (k == "targets") {
        targets = node;
      } else if (k == "target_files") {
        target_files = node;
      } else {
        st = UnknownKeyIn(Table::kTop, *key, "");
      }
      if (st) return st;
    }
    if (defaults) {
      if (Status st = ReadDefaults(*defaults)) return st;
    }
    config_.defaults = defaults_.options;
    if (!targets && !target_files) {
      return Fail{{}, std::string("no [[targets]] defined (") + kNeedTargets + ")"};
    }
    if (targets) {
      if (Status st = ReadTargets(*targets)) return st;
    }
    if (target_files) {
      if (Status st = ReadTargetFiles(*target_files)) return st;
      if (config_.groups.empty() && config_.target_files.empty()) {
        return Fail{PosOf(*target_files),
                    std::string("target_files: no [[target_files]] listed and no [[targets]] "
                                "defined (") +
                        kNeedTargets + ")"};
      }
    }
    return std::nullopt;
  }

  Config Take() { return std::move(config_); }

 private:
  Status ReadDefaults(const toml::node& node) {
    const toml::table* t = node.as_table();
    if (!t) return TypeFail(node, "defaults", "a table ([defaults])");
    for (const auto& [key, value] : InFileOrder(*t)) {
      const OptionKey* option = FindOption(key->str());
      if (!option) return UnknownKeyIn(Table::kDefaults, *key, "defaults");
      Status st =
          ReadOption(*option, *value, Join("defaults", key->str()), Scope::kDefaults, defaults_);
      if (st) return st;
    }
    return CheckTiming(defaults_, "defaults", Scope::kDefaults, PosOf(node));
  }

  Status ReadTargets(const toml::node& node) {
    const toml::array* arr = node.as_array();
    if (!arr) return TypeFail(node, "targets", "an array of tables ([[targets]])");
    if (arr->empty()) {
      return Fail{PosOf(node),
                  std::string("targets: no [[targets]] defined (") + kNeedTargets + ")"};
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

  // Reads the keys that [[targets]] and [[target_files]] tables share (the probe options,
  // name, family, labels, all_addresses, exclude_local) into `source` and `set`, and hands the
  // others to `own_key`, which returns false for a key the table does not take. The options start
  // from [defaults]; the caller checks their timing once its own keys are read.
  template <typename Source, typename OwnKey>
  Status ReadSourceTable(const toml::table& t, const std::string& path, Table table, Source& source,
                         OptionSet& set, OwnKey&& own_key) {
    set = defaults_;
    const toml::node* family = nullptr;  // read after the loop, once the other keys are known
    for (const auto& [key, value] : InFileOrder(t)) {
      std::string_view k = key->str();
      std::string key_path = Join(path, k);
      Status st;
      if (const OptionKey* option = FindOption(k)) {
        st = ReadOption(*option, *value, key_path, Scope::kGroup, set);
      } else if (k == "name") {
        st = ReadName(*value, key_path, source.name);
      } else if (k == "family") {
        family = value;
      } else if (k == "labels") {
        st = ReadLabels(*value, key_path, source.labels);
      } else if (k == "all_addresses") {
        st = ReadBool(*value, key_path, source.all_addresses);
      } else if (k == "exclude_local") {
        st = ReadBool(*value, key_path, source.exclude_local);
      } else if (!own_key(k, *value)) {
        st = UnknownKeyIn(table, *key, path);
      }
      if (st) return st;
    }
    if (family) {
      if (Status st = ReadFamily(*family, Join(path, "family"), source.family)) return st;
    }
    return CheckName(source.name, path);
  }

  Status ReadGroup(const toml::table& t, const std::string& path, size_t index, TargetGroup& group,
                   HostsSeen& hosts_seen) {
    group.position = PosOf(t);
    group.name = "group-" + std::to_string(index + 1);
    group_name_position_ = group.position;
    OptionSet set;
    const toml::node* hosts = nullptr;
    Status st = ReadSourceTable(t, path, Table::kGroup, group, set,
                                [&hosts](std::string_view k, const toml::node& value) {
                                  if (k != "hosts") return false;
                                  hosts = &value;
                                  return true;
                                });
    if (st) return st;
    if (!hosts) {
      return Fail{group.position,
                  path + ": missing required key \"hosts\" (e.g. hosts = [\"127.0.0.1\"])"};
    }
    if (Status st = ReadHosts(*hosts, Join(path, "hosts"), index, group, hosts_seen)) return st;
    if (Status st = CheckTiming(set, path, Scope::kGroup, group.position)) return st;
    group.options = set.options;
    return std::nullopt;
  }

  Status ReadName(const toml::node& node, const std::string& path, std::string& out) {
    if (Status st = ReadPrintable(node, path, "a string", out)) return st;
    if (out.empty()) return Fail{PosOf(node), path + ": must not be empty"};
    group_name_position_ = PosOf(node);
    return std::nullopt;
  }

  // Group and file names share one namespace: both name the source of a target in logs and on
  // the status page.
  Status CheckName(const std::string& name, const std::string& path) {
    auto [it, inserted] = names_seen_.emplace(name, HostSeen{group_name_position_, path});
    if (inserted) return std::nullopt;
    return Fail{group_name_position_, path + ".name: duplicate group name " + Quote(name) +
                                          " (already used by " + it->second.path + " at " +
                                          PosText(it->second.position) + ")"};
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
        return Fail{path_position, path + ".path: duplicate target file " + Quote(file.path) +
                                       " (already read by " + it->second.path + " at " +
                                       PosText(it->second.position) + ")"};
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
    OptionSet set;
    const toml::node* file_path = nullptr;
    const toml::node* format = nullptr;
    Status st = ReadSourceTable(t, path, Table::kFile, file, set,
                                [&](std::string_view k, const toml::node& value) {
                                  if (k == "path") {
                                    file_path = &value;
                                  } else if (k == "format") {
                                    format = &value;
                                  } else {
                                    return false;
                                  }
                                  return true;
                                });
    if (st) return st;
    if (!file_path) {
      return Fail{file.position,
                  path + ": missing required key \"path\" (e.g. path = \"targets.txt\")"};
    }
    path_position = PosOf(*file_path);
    // Printable too: the path is a label value of ping_exporter_target_file_* series.
    std::string written;
    if (Status st =
            ReadPrintable(*file_path, Join(path, "path"), "a string (a file path)", written)) {
      return st;
    }
    if (written.empty()) return Fail{path_position, Join(path, "path") + ": must not be empty"};
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
    for (char& c : ext) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
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
    return Fail{PosOf(node), path + ": " + Quote(s) +
                                 " is not a target file format (expected \"lines\" or "
                                 "\"file_sd\")"};
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
    std::optional<Family> family = ParseFamily(v->get());
    if (!family) {
      return Fail{PosOf(node), path + ": " + Quote(v->get()) +
                                   " is not a family (expected \"ip4\", \"ip6\" or \"any\")"};
    }
    out = *family;
    return std::nullopt;
  }

  static Status ReadHosts(const toml::node& node, const std::string& path, size_t group_index,
                          TargetGroup& group, HostsSeen& seen) {
    const toml::array* arr = node.as_array();
    if (!arr) return TypeFail(node, path, "an array of strings (IP addresses or host names)");
    if (arr->empty()) return Fail{PosOf(node), path + ": must list at least one host"};
    group.hosts.reserve(arr->size());
    group.host_positions.reserve(arr->size());
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      auto host_path = [&] { return Index(path, i); };
      const toml::value<std::string>* v = e.as_string();
      if (!v) return TypeFail(e, host_path(), "a string (an IP address or host name)");
      const std::string& host = v->get();
      SourcePosition pos = PosOf(e);
      if (host.empty()) return Fail{pos, host_path() + ": host must not be empty"};
      std::optional<IpAddress> ip = IpAddress::Parse(host);
      bool ip4 = ip && ip->is_v4();
      bool ip6 = ip && !ip->is_v4();
      if (!ip && !IsHostName(host)) return Fail{pos, host_path() + ": " + NotAHost(host)};
      if (ip6 && group.family == Family::kIp4) {
        return Fail{pos, host_path() + ": " + Quote(host) +
                             " is an IPv6 address but the group's family is \"ip4\""};
      }
      if (ip4 && group.family == Family::kIp6) {
        return Fail{pos, host_path() + ": " + Quote(host) +
                             " is an IPv4 address but the group's family is \"ip6\""};
      }
      auto [it, inserted] =
          seen.emplace(ip ? AddressKey(*ip) : HostKey(host),
                       HostRef{pos, static_cast<uint32_t>(group_index), static_cast<uint32_t>(i)});
      if (!inserted) {
        return Fail{pos, host_path() + ": duplicate host " + Quote(host) + " (already listed at " +
                             PosText(it->second.position) + " as " + it->second.Path() + ")"};
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
        return Fail{PosOf(*key), path + ": " + Quote(name) +
                                     " is not a valid label name (expected "
                                     "[a-zA-Z_][a-zA-Z0-9_]*)"};
      }
      if (name.size() >= 2 && name[0] == '_' && name[1] == '_') {
        return Fail{PosOf(*key), path + ": label name " + Quote(name) +
                                     " is reserved (names starting with \"__\" are for "
                                     "Prometheus' internal use)"};
      }
      if (IsReservedLabel(name)) {
        return Fail{PosOf(*key), path + ": label name " + Quote(name) +
                                     " is reserved (the exporter or Prometheus sets it)"};
      }
      std::string text;
      // Escaped(): a label name has no length limit, a message must have one.
      if (Status st =
              ReadPrintable(*value, Join(path, Escaped(name)), "a string label value", text)) {
        return st;
      }
      out.emplace_back(std::move(name), std::move(text));
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
}  // namespace detail

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

std::optional<Family> ParseFamily(std::string_view name) {
  for (Family f : {Family::kIp4, Family::kIp6, Family::kAny}) {
    if (name == FamilyName(f)) return f;
  }
  return std::nullopt;
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
    detail::Validator validator(source_name);
    if (detail::Status st = validator.Run(root)) {
      return detail::ToResult(source_name, std::move(*st));
    }
    return validator.Take();
  } catch (const toml::parse_error& e) {
    return detail::ToResult(
        source_name,
        // toml++ may quote a piece of the input, control bytes included ("saw 'tru\x01'").
        detail::Fail{detail::PosOf(e.source()),
                     "invalid TOML: " + Escaped(e.description(), 4 * kMaxShownChars)});
  } catch (const std::exception& e) {
    return detail::ToResult(source_name,
                            detail::Fail{{}, std::string("cannot parse: ") + e.what()});
  }
}

ParseResult LoadFile(const std::string& path) {
  Expected<std::string, std::string> text = ReadFileCapped(path, kMaxFileBytes);
  if (!text) return MakeUnexpected(Error{path, {}, "cannot read: " + text.error()});
  return Parse(*text, path);
}

std::string_view EmbeddedDefaultToml() { return kEmbeddedDefault; }

ParseResult LoadEmbeddedDefault() { return Parse(kEmbeddedDefault, "<embedded default>"); }

std::vector<double> DefaultRttBuckets() {
  // Four bounds a decade (≈ ×1.78 each), rounded to two digits so `le` labels stay readable.
  return {0.0001, 0.00018, 0.00032, 0.00056, 0.001, 0.0018, 0.0032, 0.0056, 0.01, 0.018, 0.032,
          0.056,  0.1,     0.18,    0.32,    0.56,  1,      1.8,    3.2,    5.6,  10};
}

SharedProbeOptions::SharedProbeOptions() {
  // One defaults object for every default-constructed value: BuildPlans makes 100 000.
  static const std::shared_ptr<const ProbeOptions> kDefaults = std::make_shared<ProbeOptions>();
  p_ = kDefaults;
}

SharedProbeOptions::SharedProbeOptions(ProbeOptions options)
    : p_(std::make_shared<const ProbeOptions>(std::move(options))) {}

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

bool IsReservedLabel(std::string_view s) {
  return std::find(std::begin(kReservedLabels), std::end(kReservedLabels), s) !=
         std::end(kReservedLabels);
}

}  // namespace ping_exporter::config
