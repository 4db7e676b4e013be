#pragma once
// The exporter's own metrics (build, reload, engine counts), kept in a
// prometheus-cpp registry (few series, so its serializer is fast enough here).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "metrics/exposition.h"

namespace prometheus {
class Registry;
class Gauge;
}  // namespace prometheus

namespace ping_exporter::metrics {

/// Values read at scrape time from the running engine.
struct EngineCounts {
  uint64_t targets = 0;
  uint64_t workers = 0;
  uint64_t rounds_late = 0;
  uint64_t rounds_completed = 0;
  uint64_t unmatched_replies = 0;
};

/// Thread-safe: prometheus-cpp metrics are atomic; Render() may run on many
/// HTTP threads at once.
class SelfMetrics {
 public:
  SelfMetrics(const std::string& version, const std::string& revision,
              std::function<EngineCounts()> counts);
  ~SelfMetrics();
  SelfMetrics(const SelfMetrics&) = delete;
  SelfMetrics& operator=(const SelfMetrics&) = delete;

  /// Records a reload attempt (the first load counts as one).
  void RecordReload(bool success, double wall_time_seconds);
  /// Writes these families.
  void Render(FamilyWriter& out) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<EngineCounts()> counts_;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* reload_time_;
};

}  // namespace ping_exporter::metrics
