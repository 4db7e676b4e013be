#include "app/options.h"

#include <limits.h>
#include <unistd.h>

#include <chrono>

#include "common/duration.h"
#include "common/text.h"
#include "ondemand/allow_list.h"
#include "planning/engine.h"

namespace ping_exporter::app {

std::string CheckTelemetryPath(const std::string& path) {
  return !path.empty() && path[0] == '/' && path != "/" ? std::string()
                                                        : "must start with / and not be /";
}

std::string CheckRequestTimeout(const std::string& duration) {
  auto d = ParseDuration(duration);
  return d && *d >= std::chrono::milliseconds(100) && *d <= std::chrono::minutes(10)
             ? std::string()
             : "must be a duration between 100ms and 10m";
}

std::string CheckSampleInterval(const std::string& duration) {
  auto d = ParseDuration(duration);
  return d && *d >= std::chrono::milliseconds(100) ? std::string() : "must be a duration >= 100ms";
}

std::string CheckShard(const std::string& shard) {
  return planning::ParseShard(shard) ? std::string() : "must be I/N with 0 <= I < N";
}

std::string CheckProbeAllow(const std::string& allow) {
  auto list = ondemand::AllowList::Parse(allow);
  return list ? std::string() : list.error();
}

std::string CheckSourceName(const std::string& name) {
  // A label value: any UTF-8 text (Prometheus treats an empty one as no label).
  return IsValidUtf8(name) ? std::string() : "must be UTF-8 text";
}

std::string DefaultSourceName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return IsValidUtf8(name) ? std::string(name) : std::string();
}

}  // namespace ping_exporter::app
