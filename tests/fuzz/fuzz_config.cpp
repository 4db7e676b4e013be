// Fuzzes config::Parse with arbitrary text. It must never throw or crash; an error
// must name the source ("fuzz:..."), and an accepted Config must keep the limits
// the rest of the exporter relies on (config.h and the config format).
// Target files are only named here, never opened (config.h), so any path is safe.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/host_name.h"
#include "common/ip_address.h"
#include "config/config.h"
#include "fuzz_check.h"

namespace {

namespace config = ping_exporter::config;
using ping_exporter::fuzz::Require;

void CheckOptions(const config::ProbeOptions& o) {
  Require(o.count >= 1 && o.count <= 64, "count outside 1..64");
  Require(o.payload_size >= 32 && o.payload_size <= 65000, "payload_size outside 32..65000");
  Require(o.interval.count() > 0, "interval not positive");
  Require(o.timeout.count() > 0 && o.spacing.count() > 0, "timeout or spacing not positive");
  Require(o.timeout < o.interval, "timeout not below interval");
  // (count-1)*spacing+timeout < interval, computed without overflow: an accepted
  // config whose round length overflows is a bug too.
  int64_t round = 0;
  bool overflow = __builtin_mul_overflow(int64_t{o.count} - 1, o.spacing.count(), &round) ||
                  __builtin_add_overflow(round, o.timeout.count(), &round);
  Require(!overflow && round < o.interval.count(), "round length not below interval");
  Require(o.interface.size() <= 15, "interface name longer than 15 characters");
  Require(!o.rtt_buckets.empty(), "no rtt buckets");
  for (size_t i = 0; i < o.rtt_buckets.size(); ++i) {
    Require(std::isfinite(o.rtt_buckets[i]) && o.rtt_buckets[i] > 0, "bad rtt bucket");
    Require(i == 0 || o.rtt_buckets[i - 1] < o.rtt_buckets[i], "rtt buckets not increasing");
  }
  Require(o.rtt_bucket_factor > 1, "rtt_bucket_factor not above 1");
}

void CheckLabels(const config::Labels& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    Require(config::IsLabelName(labels[i].first), "bad label name accepted");
    Require(!config::IsReservedLabel(labels[i].first), "reserved label name accepted");
    Require(i == 0 || labels[i - 1].first < labels[i].first, "labels not sorted by name");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Any exception escaping Parse() is an uncaught throw: libFuzzer reports it as a crash.
  config::ParseResult result = config::Parse(text, "fuzz");
  if (!result.has_value()) {
    std::string message = result.error().ToString();
    Require(message.rfind("fuzz:", 0) == 0, "error does not start with the source name");
    Require(result.error().file == "fuzz", "error names another file");
    return 0;
  }
  const config::Config& c = *result;
  Require(!c.groups.empty() || !c.target_files.empty(), "accepted a config without targets");
  Require(c.workers <= 1024, "workers above 1024");
  CheckOptions(c.defaults);
  for (const config::TargetGroup& g : c.groups) {
    Require(!g.hosts.empty(), "accepted a group without hosts");
    Require(g.hosts.size() == g.host_positions.size(), "host_positions not parallel to hosts");
    Require(!g.name.empty(), "group without a name");
    for (const std::string& h : g.hosts) {
      Require(ping_exporter::IpAddress::Parse(h).has_value() || ping_exporter::IsHostName(h),
              "host neither an IP literal nor a host name");
    }
    CheckLabels(g.labels);
    CheckOptions(g.options);
  }
  for (const config::TargetFile& f : c.target_files) {
    Require(!f.name.empty(), "target file without a name");
    std::filesystem::path path(f.path);
    Require(path.is_absolute() && path.lexically_normal() == path,
            "target file path not absolute and normal");
    CheckLabels(f.labels);
    CheckOptions(f.options);
  }
  return 0;
}
