#pragma once
// The running prober: turns a Config into targets and a worker pool, and on
// reload swaps in a new one while unchanged targets keep their history.

#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>

#include "common/expected.h"
#include "common/log.h"
#include "config/config.h"
#include "metrics/store.h"
#include "probe/pool.h"

namespace ping_exporter::probe {

/// `--shard=I/N`: keep only the targets whose stable hash falls in shard I of N,
/// so N replicas split one list without talking to each other.
struct Shard {
  uint32_t index = 0;  ///< 0-based, < count
  uint32_t count = 1;
  bool Owns(std::string_view target) const;
};
/// Parses "I/N" (0 <= I < N <= 65536); nullopt on anything else.
std::optional<Shard> ParseShard(std::string_view text);

struct EngineOptions {
  icmp::SocketKind socket_kind = icmp::SocketKind::kRaw;
  uint32_t default_workers = 1;  ///< used when the config says workers = 0
  Shard shard;
};

/// Owns the result store and the current pool. Apply() is serialized by an
/// internal mutex (reloads from a signal and from HTTP may race); scrapes
/// read store() concurrently. Not copyable.
class Engine {
 public:
  Engine(EngineOptions options, std::vector<double> bucket_bounds, Logger& logger);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Resolves the config's hosts and (re)starts probing them. On failure the
  /// previous configuration keeps running and the message is returned.
  Expected<bool, std::string> Apply(const config::Config& config);

  const metrics::ResultStore& store() const { return *store_; }
  size_t target_count() const;
  uint32_t worker_count() const;
  /// Pool counters summed over every pool this engine ran (counters never go back).
  uint64_t rounds_late() const;
  uint64_t unmatched_replies() const;
  uint64_t rounds_completed() const;
  void Stop();

 private:
  EngineOptions options_;
  Logger& log_;
  std::unique_ptr<metrics::ResultStore> store_;
  TimePoint epoch_;
  mutable std::mutex mu_;
  std::unique_ptr<WorkerPool> pool_;
  std::vector<TargetPlan> plans_;
  uint32_t workers_ = 0;
  uint64_t late_before_ = 0, unmatched_before_ = 0, completed_before_ = 0;
};

/// Resolves every host of `config` into plans, reusing entries from
/// `previous` whose target, address and labels are unchanged.
std::vector<TargetPlan> BuildPlans(const config::Config& config,
                                   const std::vector<TargetPlan>& previous, size_t bucket_count,
                                   const Shard& shard, Logger& logger);

}  // namespace ping_exporter::probe
