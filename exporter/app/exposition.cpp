#include "app/exposition.h"

#include <string>

#include "metrics/process_stats.h"
#include "metrics/text_writer.h"

namespace ping_exporter::app {

void WriteMetrics(const MetricsSources& sources, const http::BodyWriter& write) {
  metrics::WriteTargetFamilies(sources.engine.store(), write);
  std::string tail;
  sources.self.Render(&tail);
  sources.probe.Render(&tail);
  sources.engine.RenderStatus(&tail);
  metrics::WriteProcessFamilies(&tail);
  write(tail);
}

}  // namespace ping_exporter::app
