#pragma once
// The exporter's HTTP routes: each path, the methods it answers and its handler.

#include <string>
#include <vector>

#include "app/exposition.h"
#include "app/reloader.h"
#include "http/server.h"
#include "status/history.h"
#include "status/status_page.h"

namespace ping_exporter::app {

/// What the routes serve. References and pointers are borrowed: they must
/// outlive the server that runs the routes.
struct RouteSources {
  MetricsSources metrics;
  status::PageInfo page;           ///< page.telemetry_path is also the /metrics route's path
  const status::History* history;  ///< the status page's graphs
  http::Handler probe;             ///< /probe (ondemand::MakeProbeHandler)
  Reloader& reloader;
  bool enable_lifecycle = false;  ///< --web.enable-lifecycle: else /-/reload answers 403
};

/// The route table: the telemetry path, "/" (status page), "/probe",
/// "/-/healthy" and "/-/ready" answer GET (and HEAD); "/-/reload" answers POST
/// only, as Prometheus does: it reloads with enable_lifecycle, else it answers 403
/// "Lifecycle API is not enabled.". The health checks and the reload do not count
/// against the server's max_requests. Every handler is thread-safe.
std::vector<http::Route> MakeRoutes(RouteSources sources);

/// /-/ready: 200 once the configuration is applied (sockets open) and every
/// target has completed a round, or there are no targets (an empty shard);
/// 503 with the reason otherwise.
http::Response Readiness(const planning::Engine& engine);

}  // namespace ping_exporter::app
