#pragma once
// The running prober: turns a Config into targets and a worker pool, and on
// reload swaps in a new one while unchanged targets keep their history.

#include <chrono>
#include <condition_variable>
#include <functional>
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
#include "targets/resolver_service.h"

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
  /// How host names are looked up; null: c-ares (targets::MakeCaresLookup()).
  std::unique_ptr<targets::NameLookup> lookup = nullptr;
  std::string source_name{};  ///< `source` label of every target (--source.name); "" = none
};

/// Owns the result store, the current pool and the resolver service. Apply()
/// is serialized by an internal mutex (reloads from a signal and from HTTP
/// may race); scrapes read store() concurrently. Not copyable.
///
/// Nothing here waits for a name lookup: plans are built from what the
/// resolver service knows at that moment (a name with no answer yet is
/// probed as unresolved), and the engine re-applies the running
/// configuration by itself when answers change a name's addresses (batched,
/// at most once per kAnswerBatch) and when a [[target_files]] file changes
/// (inotify); targets keep their history either way, only the `address`
/// label moves.
class Engine {
 public:
  /// Answers that arrive within this long of the first one are applied
  /// together: names resolving one by one restart the pool at most once a
  /// second, and a new answer is in use within about a second.
  static constexpr Duration kAnswerBatch = std::chrono::seconds(1);

  Engine(EngineOptions options, Logger& logger);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// (Re)starts probing the config's hosts with the addresses known now, and
  /// hands its names to the resolver service. On failure the previous
  /// configuration keeps running and the message is returned.
  Expected<bool, std::string> Apply(const config::Config& config);
  /// True once an Apply() succeeded: the config is loaded and the sockets are open.
  bool running() const;

  const metrics::ResultStore& store() const { return *store_; }
  size_t target_count() const;
  uint32_t worker_count() const;
  /// Pool counters summed over every pool this engine ran (counters never go back).
  uint64_t rounds_late() const;
  uint64_t unmatched_replies() const;
  uint64_t rounds_completed() const;
  /// Writes the target-file and resolve-error families (family::kTargetFile*, kResolveErrors).
  void RenderStatus(metrics::FamilyWriter& out) const;

  /// A target is stale when its latest round completed more than kStaleRounds of its
  /// intervals ago, and at least kStaleAfter ago.
  static constexpr int kStaleRounds = 3;
  static constexpr Duration kStaleAfter = std::chrono::seconds(10);
  /// The status page's problems (thread-safe, beside probing and reloads):
  /// [[target_files]] files whose latest read failed, in config order;
  std::vector<targets::TargetFileStatus> FailingFiles() const;
  /// names whose latest lookup failed, by host;
  std::vector<targets::NameState> FailingNames() const;
  /// targets whose rounds are stale at `now_wall` (seconds since the epoch), in store order.
  /// A target that has not completed its first round is not stale.
  std::vector<metrics::TargetEntry> StaleTargets(double now_wall) const;
  /// Re-reads target files and re-plans with the latest answers now; restarts
  /// probing only if the resulting targets differ. A target file's change of
  /// state (bad, another error, good again) is logged once. Called by the
  /// background thread; public for tests.
  void Refresh();
  void Stop();

 private:
  EngineOptions options_;
  Logger& log_;
  std::unique_ptr<metrics::ResultStore> store_;
  probe::TimePoint epoch_;
  std::mutex apply_mu_;    // serializes Apply() and Refresh()
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
  // Background refresh: woken by the file watcher or by changed answers.
  std::mutex refresh_mu_;
  std::condition_variable refresh_cv_;
  std::optional<std::chrono::steady_clock::time_point> refresh_at_;
  bool stopping_ = false;
  std::thread refresher_;
  // Declared last, so destroyed before the refresh state its callback touches.
  std::unique_ptr<targets::ResolverService> resolver_;
  void RefreshLoop();
  /// Asks for a Refresh() within `delay` (sooner if one is already due sooner).
  void RequestRefresh(Duration delay);
  /// Targets of `config` (files read) as plans; called without mu_.
  struct Planned {
    std::vector<probe::TargetPlan> plans;
    std::vector<targets::TargetFileStatus> files;
    std::vector<targets::NameRequest> names;
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

/// The latest known addresses of a spec's name (empty: none yet); never blocks.
using KnownAddresses = std::function<targets::Addresses(const targets::TargetSpec&)>;

/// What every plan of one BuildPlans() call shares. A plain value.
struct PlanContext {
  SeriesOptionsOf series = SeriesOptionsFrom();  ///< new targets' series options, per group
  Shard shard;
  bool group_label = false;  ///< each target's identity carries its spec's `source` as `group`
  std::string source_name;   ///< each target's `source` label; "" = none
  /// This machine's addresses (LocalAddresses()): specs with exclude_local leave them out.
  std::vector<IpAddress> local_addresses;
};

/// Turns the specs this shard owns into plans (one per address with
/// all_addresses), reusing the stats of `previous` targets with the same name,
/// labels, series options and address index, so a moved address keeps the
/// target's history; a target whose address did not move keeps its whole entry
/// (same TargetInfo object). IP literals are taken as they are; names get the
/// addresses `known` gives, and one unresolved plan (address nullopt) while it
/// gives none. With exclude_local, addresses in `context.local_addresses` are
/// left out (without all_addresses the first other one is probed); a spec left
/// with none has no plan. Every name (and literal of the wrong family) is
/// appended to `names`, for the resolver service. The plans of one name must be
/// consecutive in `previous` (as BuildPlans makes them).
std::vector<probe::TargetPlan> BuildPlans(const std::vector<targets::TargetSpec>& specs,
                                          const std::vector<probe::TargetPlan>& previous,
                                          const PlanContext& context, const KnownAddresses& known,
                                          std::vector<targets::NameRequest>* names = nullptr);

}  // namespace ping_exporter::planning
