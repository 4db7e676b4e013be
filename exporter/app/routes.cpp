#include "app/routes.h"

#include <memory>
#include <utility>

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
  r.body = status::RenderStatusPage(s.metrics.engine.store(), s.page, s.history, WallSeconds());
  return r;
}

http::Response Healthy() {
  http::Response r;
  r.body = "Healthy\n";
  return r;
}

http::Response Reload(Reloader& reloader) {
  http::Response r;
  std::string error = reloader.ReloadOnOwnThread();
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
  if (engine.rounds_completed() == 0) {
    r.status = 503;
    r.body = "Not ready: no round completed yet\n";
  } else {
    r.body = "Ready\n";
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
  routes.push_back({"/-/healthy", [](const http::Request&) { return Healthy(); }});
  routes.push_back(
      {"/-/ready", [s](const http::Request&) { return Readiness(s->metrics.engine); }});
  routes.push_back(
      {"/-/reload", [s](const http::Request&) { return Reload(s->reloader); }, {"POST", "PUT"}});
  return routes;
}

}  // namespace ping_exporter::app
