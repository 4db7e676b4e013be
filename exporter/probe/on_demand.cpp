#include "probe/on_demand.h"

#include <algorithm>

#include "probe/pool.h"

namespace ping_exporter::probe {

Expected<std::vector<metrics::TargetSnapshot>, std::string> RunOneRound(
    const std::vector<TargetPlan>& plans, const OnDemandOptions& options, Logger& logger) {
  Duration longest{0};
  for (const TargetPlan& plan : plans) longest = std::max(longest, plan.options->RoundLength());
  PoolOptions po;
  po.workers = options.workers;
  po.socket_kind = options.socket_kind;
  po.epoch = Clock::now();
  po.one_shot = true;
  auto pool = WorkerPool::Start(po, plans, logger);
  if (!pool) return MakeUnexpected(pool.error());
  (*pool)->WaitForOneShot(Clock::now() + longest + options.grace);
  (*pool)->Stop();
  std::vector<metrics::TargetSnapshot> snapshots(plans.size());
  for (size_t i = 0; i < plans.size(); ++i) plans[i].entry.stats->Read(&snapshots[i]);
  return snapshots;
}

}  // namespace ping_exporter::probe
