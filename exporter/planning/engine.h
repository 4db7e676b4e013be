#pragma once
// The running prober: turns a Config into targets and a worker pool, and on
// reload swaps in a new one while unchanged targets keep their history.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/expected.h"
#include "common/log.h"
#include "config/config.h"
#include "metrics/exposition.h"
#include "metrics/series_options.h"
#include "metrics/store.h"
#include "probe/pool.h"
#include "probe/schedule.h"
#include "targets/expand.h"
#include "targets/file_watcher.h"

namespace ping_exporter::planning {

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
///
/// Besides Apply(), the engine re-applies the running configuration by
/// itself when a [[target_files]] file changes (inotify) and when a host
/// name's addresses change (re-resolved every resolve_interval); targets
/// keep their history either way, only the `address` label moves.
class Engine {
 public:
  Engine(EngineOptions options, Logger& logger);
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
  /// Writes the target-file and resolve-error families (family::kTargetFile*, kResolveErrors).
  void RenderStatus(metrics::FamilyWriter& out) const;
  /// Re-reads target files and re-resolves names now; restarts probing only if
  /// the resulting targets differ. Called by the background thread; public for tests.
  void Refresh();
  void Stop();

 private:
  EngineOptions options_;
  Logger& log_;
  std::unique_ptr<metrics::ResultStore> store_;
  probe::TimePoint epoch_;
  std::mutex apply_mu_;    // serializes Apply() and Refresh() (slow: resolves names)
  mutable std::mutex mu_;  // guards the fields below; held only briefly
  std::unique_ptr<probe::WorkerPool> pool_;
  // Shared, never copied: a reload reads the previous plans while building new ones.
  std::shared_ptr<const std::vector<probe::TargetPlan>> plans_ =
      std::make_shared<const std::vector<probe::TargetPlan>>();
  std::shared_ptr<const config::Config> config_;
  uint32_t workers_ = 0;
  uint64_t late_before_ = 0, unmatched_before_ = 0, completed_before_ = 0;
  std::unique_ptr<targets::TargetFileCache> files_;
  std::unique_ptr<targets::FileWatcher> watcher_;
  std::vector<targets::TargetFileStatus> file_status_;
  std::map<std::string, uint64_t> resolve_errors_;  // by target name
  Duration resolve_every_ = std::chrono::minutes(5);
  // Background refresh: woken by the file watcher or the resolve interval.
  std::mutex refresh_mu_;
  std::condition_variable refresh_cv_;
  bool refresh_requested_ = false;
  bool stopping_ = false;
  std::thread refresher_;
  void RefreshLoop();
  /// Targets of `config` (files read, names resolved) as plans; slow, called without mu_.
  struct Planned {
    std::vector<probe::TargetPlan> plans;
    std::vector<targets::TargetFileStatus> files;
    std::vector<std::string> unresolved;
  };
  Planned Plan(const config::Config& config, const std::vector<probe::TargetPlan>& previous,
               bool log_problems);
  void RecordStatus(const Planned& planned);
  Expected<bool, std::string> StartPool(std::shared_ptr<const std::vector<probe::TargetPlan>> plans,
                                        uint32_t workers);
};

/// What a target of a group with these probe options records and exposes; the
/// same object for every target of a group. Called on one thread at a time.
using SeriesOptionsOf =
    std::function<std::shared_ptr<const metrics::SeriesOptions>(const config::ProbeOptions&)>;
/// Each group's series options from its probe options, made once per group (keyed by its
/// options object, which the group's targets share).
SeriesOptionsOf SeriesOptionsFrom();

/// Resolves every spec into plans (one per address with all_addresses),
/// reusing the stats of `previous` targets with the same name, labels, series
/// options and address index, so a moved address keeps the target's history; a
/// target whose address did not move keeps its whole entry (same TargetInfo
/// object). IP literals are taken as they are, without a resolver call. The
/// plans of one name must be consecutive in `previous` (as BuildPlans makes them).
std::vector<probe::TargetPlan> BuildPlans(const std::vector<targets::TargetSpec>& specs,
                                          const std::vector<probe::TargetPlan>& previous,
                                          const SeriesOptionsOf& series, const Shard& shard,
                                          Logger& logger,
                                          std::vector<std::string>* unresolved = nullptr);

}  // namespace ping_exporter::planning
