#include "app/exposition.h"

#include <string>

#include "metrics/exposition.h"
#include "metrics/process_stats.h"

namespace ping_exporter::app {

void WriteMetrics(const MetricsSources& sources, metrics::Format format,
                  const http::BodyWriter& write) {
  metrics::WriteTargetFamilies(sources.engine.store(), format, write);
  metrics::FamilyWriter tail(format);
  sources.self.Render(tail);
  sources.probe.Render(tail);
  sources.engine.RenderStatus(tail);
  metrics::WriteProcessFamilies(tail);
  write(tail.Finish() + std::string(metrics::Trailer(format)));
}

}  // namespace ping_exporter::app
