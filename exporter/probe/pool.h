#pragma once
// A fixed set of prober threads sharing out the targets. The thread count
// depends on the configuration's `workers`, never on the number of targets.

#include <memory>
#include <string>
#include <vector>

#include "common/expected.h"
#include "common/log.h"
#include "probe/worker.h"

namespace ping_exporter::probe {

struct PoolOptions {
  uint32_t workers = 1;  ///< >= 1; resolved from "0 = cores" by the caller
  icmp::SocketKind socket_kind = icmp::SocketKind::kRaw;
  TimePoint epoch;  ///< keep it across reloads so phases stay put
  bool one_shot = false;
};

/// Owns the workers. Start() opens every socket first and fails as a whole;
/// the destructor stops and joins all threads. Not copyable. Thread-safe for
/// reads of counters() and WaitForOneShot().
class WorkerPool {
 public:
  /// `targets` is only read: each worker gets copies of its share (plans are small, their
  /// options and identity shared), so the caller may keep the list.
  static Expected<std::unique_ptr<WorkerPool>, std::string> Start(
      const PoolOptions& options, const std::vector<TargetPlan>& targets, Logger& logger);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  const PoolCounters& counters() const { return *counters_; }
  /// One-shot pools: blocks until every worker has finished its rounds (true)
  /// or `deadline` passes (false). False at once for a pool that is not one-shot.
  bool WaitForOneShot(TimePoint deadline);
  size_t worker_count() const { return workers_.size(); }
  /// Stops every worker (idempotent; also done by the destructor).
  void Stop();

 private:
  WorkerPool() = default;
  std::unique_ptr<PoolCounters> counters_;
  std::unique_ptr<DoneLatch> done_;  // one-shot pools only
  std::vector<std::unique_ptr<Worker>> workers_;
};

/// A random 64-bit value from the kernel (tokens, identifiers).
uint64_t RandomU64();

}  // namespace ping_exporter::probe
