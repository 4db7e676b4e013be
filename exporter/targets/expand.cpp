#include "targets/expand.h"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/host_name.h"
#include "common/ip_address.h"
#include "common/text.h"

namespace ping_exporter::targets {
namespace {

// A literal of the wrong family fails the whole file, as it fails a [[targets]] group.
std::optional<config::Error> CheckFamily(const FileTargets& targets, const std::string& path,
                                         config::Family family) {
  if (family == config::Family::kAny) return std::nullopt;
  for (FileTarget t : targets) {
    std::optional<IpAddress> ip = IpAddress::Parse(t.host);
    if (!ip || ip->is_v4() == (family == config::Family::kIp4)) continue;
    std::string message = Quote(t.host) + (ip->is_v4() ? " is an IPv4" : " is an IPv6") +
                          " address but the file's family is " + Quote(config::FamilyName(family));
    return config::Error{path, {t.line, t.column}, std::move(message)};
  }
  return std::nullopt;
}

// The text an error at `at` points at, for a message: from a little before its
// column to the end of its line, escaped and bounded (Escaped()).
std::string Excerpt(std::string_view text, config::SourcePosition at) {
  constexpr size_t kBefore = 20;  // bytes of context before the column
  size_t begin = 0;
  for (uint32_t n = 1; n < at.line; ++n) {
    begin = text.find('\n', begin);
    if (begin == std::string_view::npos) return "";
    ++begin;
  }
  std::string_view line = text.substr(begin, text.find('\n', begin) - begin);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t from = at.column > kBefore ? std::min<size_t>(at.column - 1 - kBefore, line.size()) : 0;
  return (from > 0 ? "..." : "") + Escaped(line.substr(from));
}

// `base` and `top` are sorted by name; `top` wins on equal names; empty values are dropped.
config::Labels Merge(const config::Labels& base, const config::Labels& top) {
  config::Labels out;
  out.reserve(base.size() + top.size());
  auto b = base.begin();
  auto t = top.begin();
  while (b != base.end() || t != top.end()) {
    const std::pair<std::string, std::string>* pick = nullptr;
    if (t == top.end() || (b != base.end() && b->first < t->first)) {
      pick = &*b++;
    } else {
      if (b != base.end() && b->first == t->first) ++b;
      pick = &*t++;
    }
    if (!pick->second.empty()) out.push_back(*pick);
  }
  return out;
}

std::string Origin(const std::string& file, uint32_t line, uint32_t column) {
  std::string out = file;
  if (line != 0) {
    out += ':';
    out += std::to_string(line);
    if (column != 0) {
      out += ':';
      out += std::to_string(column);
    }
  }
  return out;
}

// Sorts indices, then moves each spec into place along the permutation's cycles: sorting the
// 256-byte specs directly moves each log2(n) times and needs a second buffer, which cost more
// than everything else at 100 000 targets.
void SortByHost(std::vector<TargetSpec>& specs) {
  std::vector<size_t> order(specs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return specs[a].host < specs[b].host; });
  // Position i takes the spec now at order[i]; order[i] = i marks position i as done.
  for (size_t start = 0; start < order.size(); ++start) {
    if (order[start] == start) continue;
    TargetSpec held = std::move(specs[start]);
    size_t at = start;
    while (order[at] != start) {
      size_t from = order[at];
      specs[at] = std::move(specs[from]);
      order[at] = at;
      at = from;
    }
    specs[at] = std::move(held);
    order[at] = at;
  }
}

// What a status and the log say of a file that not everyone may read: where the problem is,
// never what the file holds there. Without --runas.user a root exporter reads root-only files,
// and a target file symlinked to one would otherwise have its first line quoted.
config::Error Withheld(config::Error e) {
  e.message = "invalid content (not quoted: the file is not world-readable)";
  return e;
}

}  // namespace

TargetFileCache::TargetFileCache(WallClock now) : now_(std::move(now)) {}

TargetFileCache::Entry TargetFileCache::Load(const config::TargetFile& file) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  Remembered r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(file.path);
    if (it != files_.end()) r = it->second;
  }
  r.status.name = file.name;
  r.status.path = file.path;

  FileFacts facts;
  Expected<std::string, std::string> text = ReadWholeFile(file.path, &facts);
  std::optional<std::string> error;
  std::string excerpt;
  if (!text) {
    error = file.path + ": " + text.error();
  } else {
    size_t hash = std::hash<std::string_view>()(*text);
    bool unchanged = r.good && hash == r.good_hash && text->size() == r.good_size &&
                     file.format == r.good_format && file.family == r.good_family;
    if (!unchanged) {
      FileParseResult parsed = ParseTargetFile(*text, file.path, file.format);
      std::optional<config::Error> bad;
      if (!parsed) {
        bad = parsed.error();
      } else {
        bad = CheckFamily(*parsed, file.path, file.family);
      }
      if (bad) {
        error = (facts.world_readable ? *bad : Withheld(*bad)).ToString();
        if (facts.world_readable && bad->position.line != 0)
          excerpt = Excerpt(*text, bad->position);
      } else {
        r.good = std::make_shared<const FileTargets>(std::move(*parsed));
        r.good_hash = hash;
        r.good_size = text->size();
        r.good_format = file.format;
        r.good_family = file.family;
      }
    }
  }
  if (error) {
    r.status.ok = false;
    r.status.error = std::move(*error);
    r.status.excerpt = std::move(excerpt);
    if (!r.status.failing_since) r.status.failing_since = now_();
  } else {
    r.status.ok = true;
    r.status.error.clear();
    r.status.excerpt.clear();
    r.status.failing_since.reset();
    r.status.last_success_time = now_();
  }
  if (!r.good) r.good = std::make_shared<const FileTargets>();
  r.status.target_count = r.good->size();
  Entry entry{r.good, r.status};
  {
    std::lock_guard<std::mutex> lock(mu_);
    files_[file.path] = std::move(r);
  }
  return entry;
}

void TargetFileCache::Retain(const std::vector<std::string>& paths) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (std::find(paths.begin(), paths.end(), it->first) == paths.end()) {
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<TargetFileStatus> TargetFileCache::Statuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TargetFileStatus> out;
  out.reserve(files_.size());
  for (const auto& [path, r] : files_) out.push_back(r.status);
  return out;
}

ExpandResult Expand(const config::Config& config, TargetFileCache& cache) {
  ExpandResult result;
  // Canonical host -> index in result.specs of the occurrence that won.
  std::unordered_map<std::string, size_t> seen;
  // Files are read first so that one allocation holds every spec.
  std::vector<TargetFileCache::Entry> entries;
  entries.reserve(config.target_files.size());
  size_t total = 0;
  for (const config::TargetGroup& g : config.groups) total += g.hosts.size();
  for (const config::TargetFile& f : config.target_files) {
    entries.push_back(cache.Load(f));
    total += entries.back().targets->size();
  }
  result.specs.reserve(total);
  seen.reserve(total);

  // Whether `host` is new; a duplicate is counted, and listed while the list is short. The
  // spec is built only for a new host.
  auto is_new = [&](std::string_view host, const auto& origin) {
    auto [it, inserted] = seen.emplace(HostKey(host), result.specs.size());
    if (inserted) return true;
    if (result.duplicate_count++ < kMaxListedDuplicates) {
      result.duplicates.push_back(
          DuplicateTarget{std::string(host), origin(), result.specs[it->second].origin});
    }
    return false;
  };

  // Options and labels are built once per group or file and shared by its specs.
  for (const config::TargetGroup& g : config.groups) {
    config::SharedProbeOptions options(g.options);
    auto labels = std::make_shared<const config::Labels>(g.labels);
    for (size_t i = 0; i < g.hosts.size(); ++i) {
      config::SourcePosition pos =
          i < g.host_positions.size() ? g.host_positions[i] : config::SourcePosition{};
      auto origin = [&] { return Origin(config.source_name, pos.line, pos.column); };
      if (!is_new(g.hosts[i], origin)) continue;
      result.specs.push_back(
          TargetSpec{g.hosts[i], g.family, g.all_addresses, options, labels, origin(), g.name});
    }
  }

  std::vector<std::string> paths;
  for (size_t i = 0; i < config.target_files.size(); ++i) {
    const config::TargetFile& f = config.target_files[i];
    const TargetFileCache::Entry& entry = entries[i];
    result.files.push_back(entry.status);
    paths.push_back(f.path);
    config::SharedProbeOptions options(f.options);
    auto table_labels = std::make_shared<const config::Labels>(Merge(f.labels, {}));
    // The targets of a file_sd group share one list: merge once per group, found by pointer
    // (comparing the lists would cost targets x labels).
    const config::Labels* last_own = nullptr;
    std::shared_ptr<const config::Labels> last_merged;
    for (FileTarget t : *entry.targets) {
      auto origin = [&] { return Origin(f.path, t.line, 0); };
      if (!is_new(t.host, origin)) continue;
      std::shared_ptr<const config::Labels> labels = table_labels;
      if (t.labels != nullptr) {
        if (last_own != t.labels) {
          last_own = t.labels;
          last_merged = std::make_shared<const config::Labels>(Merge(f.labels, *t.labels));
        }
        labels = last_merged;
      }
      result.specs.push_back(TargetSpec{std::string(t.host), f.family, f.all_addresses, options,
                                        std::move(labels), origin(), f.name});
    }
  }
  cache.Retain(paths);

  SortByHost(result.specs);
  return result;
}

}  // namespace ping_exporter::targets
