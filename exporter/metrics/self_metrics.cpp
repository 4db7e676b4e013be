#include "metrics/self_metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "metrics/families.h"

namespace ping_exporter::metrics {
namespace {

prometheus::MetricType PrometheusType(MetricType type) {
  return type == MetricType::kCounter ? prometheus::MetricType::Counter
                                      : prometheus::MetricType::Gauge;
}

// One unlabelled counter or gauge of the table with its value.
prometheus::MetricFamily Collected(const Family& family, double value) {
  prometheus::MetricFamily f;
  f.name = family.name;
  f.help = family.help;
  f.type = PrometheusType(family.type);
  prometheus::ClientMetric m;
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// A gauge of the table registered with prometheus-cpp.
prometheus::Family<prometheus::Gauge>& RegisterGauge(const Family& family,
                                                     prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name(std::string(family.name))
      .Help(std::string(family.help))
      .Register(registry);
}

/// Builds the engine-driven families at scrape time from live counters.
class EngineCollectable : public prometheus::Collectable {
 public:
  explicit EngineCollectable(std::function<EngineCounts()> counts) : counts_(std::move(counts)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    EngineCounts c = counts_();
    return {
        Collected(family::kTargets, static_cast<double>(c.targets)),
        Collected(family::kWorkers, static_cast<double>(c.workers)),
        Collected(family::kRoundsLate, static_cast<double>(c.rounds_late)),
        Collected(family::kRounds, static_cast<double>(c.rounds_completed)),
        Collected(family::kUnmatchedReplies, static_cast<double>(c.unmatched_replies)),
    };
  }

 private:
  std::function<EngineCounts()> counts_;
};

}  // namespace

SelfMetrics::SelfMetrics(const std::string& version, const std::string& revision,
                         std::function<EngineCounts()> counts)
    : registry_(std::make_shared<prometheus::Registry>()), counts_(std::move(counts)) {
  const Family& build = family::kBuildInfo;
  RegisterGauge(build, *registry_)
      .Add({{std::string(build.labels[0]), version}, {std::string(build.labels[1]), revision}})
      .Set(1);
  reload_ok_ = &RegisterGauge(family::kReloadSuccessful, *registry_).Add({});
  reload_time_ = &RegisterGauge(family::kReloadSuccessTimestamp, *registry_).Add({});
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
