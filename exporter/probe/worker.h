#pragma once
// One prober thread: an epoll loop over its own ICMP sockets that sleeps
// until its next due event and hands what it reads to its TargetTable (one
// shard of the targets): replies, ICMP errors and the kernel's send stamps. A
// busy worker (TargetTable::coalesced) reads its sockets once a grid step
// instead of waking for them. Replies never cross threads and the probe path
// takes no lock and allocates nothing.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/expected.h"
#include "common/log.h"
#include "icmp/socket.h"
#include "probe/target_plan.h"
#include "probe/target_table.h"

namespace ping_exporter::probe {

/// Lets a caller wait until every one-shot worker of a pool has finished its
/// targets' rounds. Thread-safe.
class DoneLatch {
 public:
  explicit DoneLatch(uint32_t count) : remaining_(count) {}
  DoneLatch(const DoneLatch&) = delete;
  DoneLatch& operator=(const DoneLatch&) = delete;
  void CountDown();
  /// Blocks until the count is zero or `deadline` passes; true if it is zero.
  bool WaitUntil(TimePoint deadline);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t remaining_;
};

struct WorkerOptions {
  TableOptions table;  ///< its seed is drawn by Create()
  icmp::SocketKind socket_kind = icmp::SocketKind::kRaw;
  /// One-shot: counted down once when every round of this worker is over.
  DoneLatch* done = nullptr;
};

/// A prober thread. Create() opens the sockets (errors are returned, before
/// any thread starts); Start() runs the loop; the destructor stops and joins.
/// Not copyable. The public methods are called from the owning thread only.
class Worker {
 public:
  static Expected<std::unique_ptr<Worker>, std::string> Create(const WorkerOptions& options,
                                                               std::vector<TargetPlan> targets,
                                                               PoolCounters& counters,
                                                               Logger& logger);
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
