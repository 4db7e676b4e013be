#include "probe/pool.h"

#include <sys/random.h>

#include <algorithm>

namespace ping_exporter::probe {

uint64_t RandomU64() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
    // getrandom cannot fail for 8 bytes once the pool is initialised; mix the
    // clock in anyway rather than return a constant.
    v ^= static_cast<uint64_t>(Clock::now().time_since_epoch().count()) * 0x9E3779B97F4A7C15ull;
  }
  return v;
}

Expected<std::unique_ptr<WorkerPool>, std::string> WorkerPool::Start(
    const PoolOptions& options, const std::vector<TargetPlan>& targets, Logger& logger) {
  std::unique_ptr<WorkerPool> pool(new WorkerPool());
  pool->counters_ = std::make_unique<PoolCounters>();
  uint32_t n = std::max<uint32_t>(1, options.workers);
  if (options.one_shot) pool->done_ = std::make_unique<DoneLatch>(n);
  uint64_t token = RandomU64();
  for (uint32_t i = 0; i < n; ++i) {
    // Round-robin sharding balances the load; replies still never cross threads
    // because every worker has its own sockets and identifiers. One shard is
    // built at a time, so only one extra copy exists at any moment.
    std::vector<TargetPlan> shard;
    shard.reserve(targets.size() / n + 1);
    for (size_t k = i; k < targets.size(); k += n) shard.push_back(targets[k]);
    WorkerOptions wo;
    wo.table.worker = static_cast<uint16_t>(i);
    wo.table.token = token;
    wo.table.epoch = options.epoch;
    wo.table.one_shot = options.one_shot;
    wo.socket_kind = options.socket_kind;
    wo.done = pool->done_.get();
    auto worker = Worker::Create(wo, std::move(shard), *pool->counters_, logger);
    if (!worker) return MakeUnexpected(worker.error());
    pool->workers_.push_back(std::move(worker.value()));
  }
  for (auto& w : pool->workers_) w->Start();
  return pool;
}

WorkerPool::~WorkerPool() { Stop(); }

bool WorkerPool::WaitForOneShot(TimePoint deadline) {
  return done_ != nullptr && done_->WaitUntil(deadline);
}

void WorkerPool::Stop() {
  for (auto& w : workers_) w->Stop();
}

}  // namespace ping_exporter::probe
