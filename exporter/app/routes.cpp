#include "app/routes.h"

#include <memory>
#include <string>
#include <utility>

#include "app/problems.h"
#include "app/wall_clock.h"

namespace ping_exporter::app {
namespace {

http::Response Metrics(const MetricsSources& sources, const http::Request& request) {
  const metrics::Format format = metrics::NegotiateFormat(request.accept);
  http::Response r;
  r.content_type = std::string(metrics::ContentType(format));
  r.compressible = true;
  // Streamed: 10 000 targets make ~40 MB of text.
  r.stream = [&sources, format](const http::BodyWriter& write) {
    WriteMetrics(sources, format, write);
  };
  return r;
}

http::Response StatusPage(const RouteSources& s) {
  http::Response r;
  r.content_type = "text/html; charset=utf-8";
  r.compressible = true;
  const double now = WallSeconds();
  r.body =
      status::RenderStatusPage(s.metrics.engine.store(), s.page,
                               CollectProblems(s.metrics.engine, s.reloader, now), s.history, now);
  return r;
}

http::Response Healthy() {
  http::Response r;
  r.body = "Healthy\n";
  return r;
}

http::Response Reload(Reloader& reloader, bool enabled) {
  http::Response r;
  if (!enabled) {
    r.status = 403;
    r.body = "Lifecycle API is not enabled.\n";  // Prometheus' answer, word for word
    return r;
  }
  std::string error = reloader.Reload();
  if (!error.empty()) {
    r.status = 500;
    r.body = "reload failed: " + error + "\n";
  } else {
    r.body = "reloaded\n";
  }
  return r;
}

}  // namespace

http::Response Readiness(const planning::Engine& engine) {
  http::Response r;
  std::string why;
  if (!engine.running()) {
    why = "no configuration applied yet";
  } else if (auto targets = engine.store().Current()) {
    // One seqlock read per target: a few milliseconds at 100 000 targets.
    size_t waiting = 0;
    metrics::TargetCounters c;
    for (const metrics::TargetEntry& t : *targets) {
      t.stats->ReadCounters(&c);
      if (!c.has_round) ++waiting;
    }
    if (waiting > 0) {
      why = std::to_string(waiting) + " of " + std::to_string(targets->size()) +
            " targets have not completed a round yet";
    }
  }
  if (why.empty()) {
    r.body = "Ready\n";
  } else {
    r.status = 503;
    r.body = "Not ready: " + why + "\n";
  }
  return r;
}

std::vector<http::Route> MakeRoutes(RouteSources sources) {
  // Shared by the handlers, which the server may copy.
  auto s = std::make_shared<const RouteSources>(std::move(sources));
  std::vector<http::Route> routes;
  routes.push_back({s->page.telemetry_path,
                    [s](const http::Request& request) { return Metrics(s->metrics, request); }});
  routes.push_back({"/", [s](const http::Request&) { return StatusPage(*s); }});
  routes.push_back({"/probe", s->probe});
  routes.push_back({"/-/healthy", [](const http::Request&) { return Healthy(); }, {"GET"}, false});
  routes.push_back({"/-/ready",
                    [s](const http::Request&) { return Readiness(s->metrics.engine); },
                    {"GET"},
                    false});
  routes.push_back({"/-/reload",
                    [s](const http::Request&) { return Reload(s->reloader, s->enable_lifecycle); },
                    {"POST"},
                    false});
  return routes;
}

}  // namespace ping_exporter::app
