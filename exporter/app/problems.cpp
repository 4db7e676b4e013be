#include "app/problems.h"

#include <chrono>

namespace ping_exporter::app {
namespace {

double Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

status::Problems CollectProblems(const planning::Engine& engine, const Reloader& reloader,
                                 double now_wall) {
  status::Problems p;
  for (targets::TargetFileStatus& f : engine.FailingFiles()) {
    double since = f.failing_since ? Seconds(*f.failing_since) : now_wall;
    p.files.push_back(
        {std::move(f.name), std::move(f.error), std::move(f.excerpt), since, f.target_count});
  }
  if (std::optional<Reloader::Failure> failed = reloader.LastFailure()) {
    p.reload = status::Problems::Reload{failed->time, std::move(failed->error)};
  }
  // Failures are timed on the monotonic clock: shown as that long before now.
  const auto steady_now = std::chrono::steady_clock::now();
  for (targets::NameState& n : engine.FailingNames()) {
    double ago =
        n.failing_since ? std::chrono::duration<double>(steady_now - *n.failing_since).count() : 0;
    p.names.push_back({std::move(n.host), std::move(n.error), now_wall - ago});
  }
  metrics::TargetCounters c;
  for (const metrics::TargetEntry& e : engine.StaleTargets(now_wall)) {
    e.stats->ReadCounters(&c);
    p.stale.push_back({e.info->name, e.info->address, c.last_round_time});
  }
  return p;
}

}  // namespace ping_exporter::app
