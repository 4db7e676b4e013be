// The property of issue #14: whatever config or target file is accepted, /metrics stays valid
// exposition text. Byte 0 picks what the rest is (bits 0-1: 0 a config, 1 a lines file,
// 2 file_sd JSON, 3 file_sd YAML); with bit 7 set, 64 filler rows with long label texts
// (800 + 8 x bits 2-6 bytes) come first, so the input's rows land at other offsets of the
// writer's 256 KiB buffer, whose edges a ~1 KB label text once overran. Accepted input goes through
// targets::Expand, as a reload does; each host then gets the identity the engine gives it
// (TargetInfo, RenderLabels) and a synthetic completed round, and metrics::WriteTargetRows renders
// the per-target families. The text is checked by a validator written here, independent of the
// exporter's escaping: UTF-8 without control characters, one sample a line, names and label names
// per the grammar, label values escaped, values numbers, no label twice, no series twice, one
// ping_up per host. Nothing is resolved or pinged: names are left unresolved, as when DNS fails.

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "config/config.h"
#include "fuzz_check.h"
#include "metrics/format.h"
#include "metrics/series_options.h"
#include "metrics/store.h"
#include "metrics/text_writer.h"
#include "targets/expand.h"

namespace {

namespace config = ping_exporter::config;
namespace metrics = ping_exporter::metrics;
namespace targets = ping_exporter::targets;
using ping_exporter::IpAddress;
using ping_exporter::fuzz::Require;

// ---- the independent validator ----

/// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF) with no
/// C0, DEL or C1 control character; '\n' only where `allow_newline`.
bool PrintableUtf8(std::string_view s, bool allow_newline) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(allow_newline && c == '\n')) || c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp >= 0x80 && cp <= 0x9F) return false;  // C1 controls
    i += n;
  }
  return true;
}

bool NameStart(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool NameChar(char c, bool colon) { return NameStart(c, colon) || (c >= '0' && c <= '9'); }

/// Length of the metric name (colon) or label name at the start of `s`; 0 if none.
size_t NameLength(std::string_view s, bool colon) {
  if (s.empty() || !NameStart(s[0], colon)) return 0;
  size_t n = 1;
  while (n < s.size() && NameChar(s[n], colon)) ++n;
  return n;
}

bool IsNumber(std::string_view v) {
  if (v == "+Inf" || v == "-Inf" || v == "NaN") return true;
  if (v.empty() || v.size() > 64) return false;
  std::string copy(v);
  char* end = nullptr;
  double d = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && std::isfinite(d);
}

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
};

/// Parses one sample line `name{a="x",b="y"} value`; aborts on any deviation.
Sample ParseSample(std::string_view line) {
  Sample s;
  size_t n = NameLength(line, true);
  Require(n > 0, "sample line does not start with a metric name");
  s.name = std::string(line.substr(0, n));
  line.remove_prefix(n);
  if (!line.empty() && line[0] == '{') {
    line.remove_prefix(1);
    while (true) {
      Require(!line.empty(), "label set not closed");
      if (line[0] == '}') {
        line.remove_prefix(1);
        break;
      }
      if (!s.labels.empty()) {
        Require(line[0] == ',', "labels not separated by ','");
        line.remove_prefix(1);
      }
      size_t ln = NameLength(line, false);
      Require(ln > 0, "bad label name");
      std::string name(line.substr(0, ln));
      line.remove_prefix(ln);
      Require(line.size() >= 2 && line[0] == '=' && line[1] == '"', "label without =\"");
      line.remove_prefix(2);
      std::string value;
      while (true) {
        Require(!line.empty(), "label value not closed");
        char c = line[0];
        line.remove_prefix(1);
        if (c == '"') break;
        if (c == '\\') {
          Require(!line.empty(), "label value ends in a backslash");
          char e = line[0];
          line.remove_prefix(1);
          Require(e == '\\' || e == '"' || e == 'n', "bad escape in a label value");
          value += e == 'n' ? '\n' : e;
          continue;
        }
        value += c;
      }
      for (const auto& [seen, unused] : s.labels) Require(seen != name, "label name twice");
      s.labels.emplace_back(std::move(name), std::move(value));
    }
  }
  Require(line.size() >= 2 && line[0] == ' ', "no space before the value");
  Require(IsNumber(line.substr(1)), "sample value is not a number");
  return s;
}

/// Checks `text` as exposition format 0.0.4; returns the `target` label of every ping_up.
std::multiset<std::string> Validate(std::string_view text) {
  Require(PrintableUtf8(text, true), "output is not printable UTF-8");
  Require(text.empty() || text.back() == '\n', "output does not end with a newline");
  std::string family;  // of the last # TYPE
  std::set<std::string> series;
  std::multiset<std::string> up_targets;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    Require(!line.empty(), "empty line");
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string_view rest = line.substr(7);
      size_t n = NameLength(rest, true);
      Require(n > 0 && n < rest.size() && rest[n] == ' ', "bad # TYPE line");
      std::string_view type = rest.substr(n + 1);
      Require(type == "counter" || type == "gauge" || type == "histogram" || type == "summary" ||
                  type == "untyped",
              "unknown metric type");
      family = std::string(rest.substr(0, n));
      continue;
    }
    Require(line[0] != '#', "comment that is neither HELP nor TYPE");
    Sample s = ParseSample(line);
    Require(!family.empty() && s.name.rfind(family, 0) == 0, "sample outside its family");
    std::string suffix = s.name.substr(family.size());
    Require(suffix.empty() || suffix == "_bucket" || suffix == "_sum" || suffix == "_count",
            "sample name is not its family's");
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "\n" + k + "=" + v;
    Require(series.insert(key).second, "the same series twice");
    if (s.name == "ping_up") {
      for (const auto& [k, v] : s.labels) {
        if (k == "target") up_targets.insert(v);
      }
    }
  }
  return up_targets;
}

// ---- from accepted input to /metrics ----

/// A throwaway directory for the target file under test; removed at exit.
class Sandbox {
 public:
  Sandbox() {
    char tmpl[] = "/tmp/pe-fuzz-targets.XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~Sandbox() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

/// The config naming the sandbox's target file, or nullopt if the file cannot be written.
std::optional<config::Config> FileConfig(std::string_view text, int mode) {
  static Sandbox sandbox;
  Require(!sandbox.dir().empty(), "cannot make the sandbox directory");
  const char* name = mode == 1 ? "/targets.txt" : mode == 2 ? "/targets.json" : "/targets.yml";
  std::string path = sandbox.dir() + name;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) return std::nullopt;
  }
  // Table labels under the file's own: the merge is part of what is rendered.
  config::ParseResult c = config::Parse("[[target_files]]\nname = \"fuzz\"\npath = \"" + path +
                                            "\"\nlabels = { site = \"lab\", rack = \"r1\" }\n",
                                        "fuzz");
  Require(c.has_value(), "the fixed file config does not parse");
  return std::move(*c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] & 3;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::optional<config::Config> cfg;
  if (mode == 0) {
    config::ParseResult parsed = config::Parse(text, "fuzz");
    if (!parsed) return 0;
    cfg = std::move(*parsed);
    cfg->target_files.clear();  // paths from the input are never opened
  } else {
    cfg = FileConfig(text, mode);
    if (!cfg) return 0;
  }
  targets::TargetFileCache cache;  // fresh: no last good content from an earlier input
  targets::ExpandResult expanded = targets::Expand(*cfg, cache);
  if (mode != 0 && !expanded.files.at(0).ok) return 0;  // refused: nothing new is rendered

  // The identity the engine gives each host (planning/engine.cpp), and a completed round.
  std::vector<std::unique_ptr<metrics::TargetInfo>> infos;
  std::vector<metrics::TargetRow> rows;
  std::multiset<std::string> hosts;
  std::vector<targets::TargetSpec> fillers;
  if (data[0] & 0x80) {
    const size_t length = 800 + 8 * ((data[0] >> 2) & 31);
    auto labels = std::make_shared<const config::Labels>(
        config::Labels{{"filler", std::string(length, 'f')}});
    for (int i = 0; i < 64; ++i) {
      // A space: no accepted host can be named like a filler.
      targets::TargetSpec filler;
      filler.host = "filler " + std::to_string(i);
      filler.labels = labels;
      fillers.push_back(std::move(filler));
    }
  }
  // Every family (the full profile) and the configured buckets, as a scrape writes them.
  metrics::SeriesOptions series;
  series.rtt_histogram = cfg->defaults.rtt_histogram;
  series.rtt_buckets = cfg->defaults.rtt_buckets;
  series.profile = metrics::Profile::kFull;
  for (const std::vector<targets::TargetSpec>* specs : {&fillers, &expanded.specs}) {
    for (const targets::TargetSpec& spec : *specs) {
      auto info = std::make_unique<metrics::TargetInfo>();
      info->name = spec.host;
      info->labels = spec.labels;
      if (std::optional<IpAddress> ip = IpAddress::Parse(spec.host)) info->address = ip->ToString();
      info->label_text = metrics::RenderLabels(*info);
      metrics::TargetRow row;
      row.info = info.get();
      row.options = &series;
      row.snap.has_round = true;
      row.snap.round_sent = 3;
      row.snap.round_received = 2;
      row.snap.rtt_min = 0.001;
      row.snap.rtt_avg = 0.0015;
      row.snap.rtt_max = 0.002;
      row.snap.reply_ttl = 64;
      row.snap.last_round_time = 1.7e9;
      row.snap.sent_total = 30;
      row.snap.received_total = 20;
      row.snap.jitter = 0.0002;
      // As TargetStats keeps them: the classic bounds' counts (none when native only), +Inf.
      row.snap.buckets.assign((series.classic() ? series.rtt_buckets.size() : 0) + 1, 2);
      row.snap.rtt_sum = 0.003;
      row.snap.rtt_count = 2;
      rows.push_back(std::move(row));
      hosts.insert(spec.host);
      infos.push_back(std::move(info));
    }
  }
  std::string out;
  metrics::WriteTargetRowsText(rows, metrics::RowFamilies::kAll, metrics::Format::kText,
                               [&out](std::string_view piece) { out.append(piece); });
  Require(Validate(out) == hosts, "ping_up series do not match the hosts one to one");
  return 0;
}
