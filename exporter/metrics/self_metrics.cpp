#include "metrics/self_metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace ping_exporter::metrics {
namespace {

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

/// Builds the engine-driven families at scrape time from live counters.
class EngineCollectable : public prometheus::Collectable {
 public:
  explicit EngineCollectable(std::function<EngineCounts()> counts) : counts_(std::move(counts)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    EngineCounts c = counts_();
    using prometheus::MetricType;
    return {
        Family("ping_exporter_targets", "Targets currently configured.", MetricType::Gauge,
               static_cast<double>(c.targets)),
        Family("ping_exporter_workers", "Prober threads.", MetricType::Gauge,
               static_cast<double>(c.workers)),
        Family("ping_exporter_rounds_late_total",
               "Rounds that started later than their slot plus tolerance (or were skipped).",
               MetricType::Counter, static_cast<double>(c.rounds_late)),
        Family("ping_exporter_rounds_total", "Rounds completed, all targets.", MetricType::Counter,
               static_cast<double>(c.rounds_completed)),
        Family("ping_exporter_unmatched_replies_total",
               "Malformed or foreign replies that no configured target could be blamed for.",
               MetricType::Counter, static_cast<double>(c.unmatched_replies)),
    };
  }

 private:
  std::function<EngineCounts()> counts_;
};

}  // namespace

SelfMetrics::SelfMetrics(const std::string& version, const std::string& revision,
                         std::function<EngineCounts()> counts)
    : registry_(std::make_shared<prometheus::Registry>()), counts_(std::move(counts)) {
  prometheus::BuildGauge()
      .Name("ping_exporter_build_info")
      .Help("Build information; the value is always 1.")
      .Register(*registry_)
      .Add({{"version", version}, {"revision", revision}})
      .Set(1);
  reload_ok_ = &prometheus::BuildGauge()
                    .Name("ping_exporter_config_last_reload_successful")
                    .Help("1 if the last configuration load or reload succeeded.")
                    .Register(*registry_)
                    .Add({});
  reload_time_ = &prometheus::BuildGauge()
                      .Name("ping_exporter_config_last_reload_success_timestamp_seconds")
                      .Help("Wall-clock time of the last successful configuration load.")
                      .Register(*registry_)
                      .Add({});
}

SelfMetrics::~SelfMetrics() = default;

void SelfMetrics::RecordReload(bool success, double wall_time_seconds) {
  reload_ok_->Set(success ? 1 : 0);
  if (success) reload_time_->Set(wall_time_seconds);
}

void SelfMetrics::Render(std::string* out) const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> live = EngineCollectable(counts_).Collect();
  families.insert(families.end(), live.begin(), live.end());
  std::ostringstream ss;
  prometheus::TextSerializer().Serialize(ss, families);
  *out += ss.str();
}

}  // namespace ping_exporter::metrics
