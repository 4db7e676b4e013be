#pragma once
// One prober thread: an epoll loop over its own ICMP sockets that sleeps
// until its next due event, owning a shard of the targets. Replies never cross threads and the
// probe path takes no lock and allocates nothing.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/expected.h"
#include "common/ip_address.h"
#include "common/log.h"
#include "config/config.h"
#include "icmp/socket.h"
#include "metrics/store.h"
#include "probe/schedule.h"

namespace ping_exporter::probe {

/// Everything a worker needs to probe one target.
struct TargetPlan {
  metrics::TargetEntry entry;          ///< identity and results (shared with the store)
  std::optional<IpAddress> address;    ///< nullopt: could not be resolved
  config::SharedProbeOptions options;  ///< shared by the target's group (read-only)
  Duration phase{0};                   ///< offset of its rounds inside the interval
};

struct WorkerOptions {
  uint16_t index = 0;
  icmp::SocketKind socket_kind = icmp::SocketKind::kRaw;
  uint64_t token = 0;  ///< per-process secret carried in every request
  TimePoint epoch;     ///< shared origin of all rounds' slots
  Duration late_tolerance = std::chrono::milliseconds(25);
  /// Probe every target once, starting now, then stop scheduling it.
  bool one_shot = false;
};

/// Counters shared by all workers of a pool. Thread-safe (atomics).
struct PoolCounters {
  std::atomic<uint64_t> rounds_late{0};
  std::atomic<uint64_t> rounds_completed{0};
  std::atomic<uint64_t> unmatched_replies{0};  ///< replies no target could be blamed for
};

/// A prober thread. Create() opens the sockets (errors are returned, before
/// any thread starts); Start() runs the loop; the destructor stops and joins.
/// Not copyable. The public methods are called from the owning thread only.
class Worker {
 public:
  static Expected<std::unique_ptr<Worker>, std::string> Create(
      const WorkerOptions& options, std::vector<TargetPlan> targets,
      std::span<const double> bucket_bounds, PoolCounters& counters, Logger& logger);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start();
  /// Asks the loop to exit and joins it. Idempotent.
  void Stop();
  size_t target_count() const;
  /// Echo identifiers of this worker's sockets (for logs and tests).
  std::vector<uint16_t> echo_ids() const;

  struct Impl;

 private:
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace ping_exporter::probe
