#include "metrics/self_metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <string_view>

#include "metrics/families.h"

namespace ping_exporter::metrics {
namespace {

// A gauge of the table registered with prometheus-cpp.
prometheus::Family<prometheus::Gauge>& RegisterGauge(const Family& family,
                                                     prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name(std::string(family.name))
      .Help(std::string(family.help))
      .Register(registry);
}

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

void SelfMetrics::Render(FamilyWriter& out) const {
  // The registry's families are the table's (registered above): write them by its entries.
  for (const prometheus::MetricFamily& collected : registry_->Collect()) {
    const Family* family = FindFamily(collected.name);
    if (family == nullptr) continue;
    out.Begin(*family);
    for (const prometheus::ClientMetric& m : collected.metric) {
      std::array<std::string_view, 2> values{};
      for (size_t i = 0; i < family->label_count(); ++i) {
        for (const prometheus::ClientMetric::Label& l : m.label) {
          if (l.name == family->labels[i]) values[i] = l.value;
        }
      }
      out.Sample(std::span<const std::string_view>(values.data(), family->label_count()),
                 m.gauge.value);
    }
  }
  const EngineCounts c = counts_();
  out.Add(family::kTargets, static_cast<double>(c.targets));
  out.Add(family::kWorkers, static_cast<double>(c.workers));
  out.Add(family::kRoundsLate, static_cast<double>(c.rounds_late));
  out.Add(family::kRounds, static_cast<double>(c.rounds_completed));
  out.Add(family::kUnmatchedReplies, static_cast<double>(c.unmatched_replies));
}

}  // namespace ping_exporter::metrics
