#include "planning/engine.h"

#include <algorithm>
#include <functional>
#include <map>

#include "metrics/exposition.h"
#include "targets/resolver.h"

namespace ping_exporter::planning {
namespace {

// History follows a target's name, static labels and (with all_addresses)
// the position of its address; the address itself may move. This finds the
// previous plans by name: open addressing over plan positions, so a reload of
// 100 000 targets builds no key strings and allocates one array.
class PreviousByName {
 public:
  explicit PreviousByName(const std::vector<probe::TargetPlan>& plans) : plans_(plans) {
    size_t capacity = 16;
    while (capacity < plans.size() * 2) capacity <<= 1;
    slots_.assign(capacity, kEmpty);
    for (size_t i = 0; i < plans.size(); ++i) {
      // Plans of one name are consecutive; the first of the run is indexed.
      if (i > 0 && plans[i - 1].entry.info->name == plans[i].entry.info->name) continue;
      size_t slot = Probe(plans[i].entry.info->name);
      if (slots_[slot] == kEmpty) slots_[slot] = static_cast<uint32_t>(i);
    }
  }

  /// The previous plan for address `index` of `name`, or null.
  const probe::TargetPlan* Find(std::string_view name, size_t index) const {
    uint32_t first = slots_[Probe(name)];
    if (first == kEmpty) return nullptr;
    size_t at = first + index;
    if (at >= plans_.size() || plans_[at].entry.info->name != name) return nullptr;
    return &plans_[at];
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  // The slot holding `name`, or the empty slot where it would go.
  size_t Probe(std::string_view name) const {
    size_t mask = slots_.size() - 1;
    size_t slot = std::hash<std::string_view>()(name) & mask;
    while (slots_[slot] != kEmpty && plans_[slots_[slot]].entry.info->name != name) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }
  const std::vector<probe::TargetPlan>& plans_;
  std::vector<uint32_t> slots_;
};

bool FamilyAccepts(config::Family family, const IpAddress& ip) {
  return family == config::Family::kAny || (family == config::Family::kIp4) == ip.is_v4();
}

bool SamePlans(const std::vector<probe::TargetPlan>& a, const std::vector<probe::TargetPlan>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].entry.info != b[i].entry.info || !(a[i].options == b[i].options)) return false;
  }
  return true;
}

}  // namespace

bool Shard::Owns(std::string_view target) const {
  // A different mix from probe::Phase(), so shards are not correlated with phases.
  return count <= 1 || probe::StableHash(target) / 7 % count == index;
}

std::optional<Shard> ParseShard(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s) -> std::optional<uint32_t> {
    if (s.empty() || s.size() > 6) return std::nullopt;
    uint32_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    return v;
  };
  auto i = number(text.substr(0, slash));
  auto n = number(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *n > 65536 || *i >= *n) return std::nullopt;
  return Shard{*i, *n};
}

SeriesOptionsOf SeriesOptionsFrom() {
  using Made = std::map<const config::ProbeOptions*, std::shared_ptr<const metrics::SeriesOptions>>;
  auto made = std::make_shared<Made>();
  return [made](const config::ProbeOptions& options) {
    std::shared_ptr<const metrics::SeriesOptions>& series = (*made)[&options];
    if (!series) {
      metrics::SeriesOptions o;
      o.rtt_histogram = options.rtt_histogram;
      o.rtt_buckets = options.rtt_buckets;
      o.native_schema = metrics::SchemaForFactor(options.rtt_bucket_factor);
      o.profile = options.metrics;
      series = std::make_shared<const metrics::SeriesOptions>(std::move(o));
    }
    return series;
  };
}

std::vector<probe::TargetPlan> BuildPlans(const std::vector<targets::TargetSpec>& specs,
                                          const std::vector<probe::TargetPlan>& previous,
                                          const SeriesOptionsOf& series, const Shard& shard,
                                          Logger& logger, std::vector<std::string>* unresolved) {
  PreviousByName old(previous);
  std::vector<probe::TargetPlan> plans;
  plans.reserve(specs.size());
  std::vector<std::optional<IpAddress>> addresses;  // reused for every spec
  for (const targets::TargetSpec& spec : specs) {
    if (!shard.Owns(spec.host)) continue;
    addresses.clear();
    std::optional<IpAddress> literal = IpAddress::Parse(spec.host);
    if (literal && FamilyAccepts(spec.family, *literal)) {
      addresses.emplace_back(*literal);  // the common case at scale: no resolver call
    } else {
      auto resolved = targets::ResolveAll(spec.host, spec.family, spec.options->resolve_timeout);
      if (resolved && !resolved->empty()) {
        size_t keep = spec.all_addresses ? resolved->size() : 1;
        for (size_t i = 0; i < keep; ++i) addresses.emplace_back((*resolved)[i]);
      } else {
        // Kept, and reported down every round, rather than silently dropped.
        logger.Warn("cannot resolve target",
                    {{"target", spec.host},
                     {"origin", spec.origin},
                     {"error", resolved ? std::string("no addresses") : resolved.error()}});
        if (unresolved) unresolved->push_back(spec.host);
        addresses.emplace_back(std::nullopt);
      }
    }
    for (size_t i = 0; i < addresses.size(); ++i) {
      probe::TargetPlan plan;
      plan.options = spec.options;
      plan.address = addresses[i];
      // Addresses of one name get distinct phases, so all_addresses does not burst.
      plan.phase = probe::Phase(i == 0 ? spec.host : spec.host + "#" + std::to_string(i),
                                spec.options->interval);
      const probe::TargetPlan* before = old.Find(spec.host, i);
      std::shared_ptr<const metrics::SeriesOptions> kept = series(*spec.options);
      if (before && !(before->entry.info->labels.list() == *spec.labels)) before = nullptr;
      // Other buckets or families: the history cannot carry over.
      if (before && !(*before->entry.stats->options() == *kept)) before = nullptr;
      if (before && before->address == plan.address) {
        plan.entry = before->entry;  // unchanged: keep identity, counters, histogram
      } else {
        metrics::TargetInfo info;
        info.name = spec.host;
        info.labels = spec.labels;
        if (addresses[i]) info.address = addresses[i]->ToString();
        info.label_text = metrics::RenderLabels(info);
        if (before) {
          // The address moved: a new identity with the target's history.
          plan.entry.info = std::make_shared<const metrics::TargetInfo>(std::move(info));
          plan.entry.stats = before->entry.stats;
        } else {
          plan.entry = metrics::TargetEntry::Make(std::move(info), std::move(kept));
        }
      }
      plans.push_back(std::move(plan));
    }
  }
  return plans;
}

Engine::Engine(EngineOptions options, Logger& logger)
    : options_(options),
      log_(logger),
      store_(std::make_unique<metrics::ResultStore>()),
      epoch_(probe::Clock::now()),
      files_(std::make_unique<targets::TargetFileCache>()) {
  refresher_ = std::thread([this] { RefreshLoop(); });
}

Engine::~Engine() { Stop(); }

Expected<bool, std::string> Engine::StartPool(
    std::shared_ptr<const std::vector<probe::TargetPlan>> plans, uint32_t workers) {
  std::lock_guard<std::mutex> lock(mu_);
  probe::PoolOptions po;
  po.workers = workers;
  po.socket_kind = options_.socket_kind;
  po.epoch = epoch_;
  // One writer per target: the old pool must be gone before the new one runs.
  if (pool_) {
    pool_->Stop();
    late_before_ += pool_->counters().rounds_late.load();
    unmatched_before_ += pool_->counters().unmatched_replies.load();
    completed_before_ += pool_->counters().rounds_completed.load();
  }
  auto started = probe::WorkerPool::Start(po, *plans, log_);
  if (!started) {
    std::string error = started.error();
    if (pool_) {
      // Bring the previous targets back.
      po.workers = workers_;
      auto again = probe::WorkerPool::Start(po, *plans_, log_);
      if (again) pool_ = std::move(again.value());
    }
    return MakeUnexpected(error);
  }
  pool_ = std::move(started.value());  // the old pool's targets are freed here
  workers_ = workers;
  auto list = std::make_shared<metrics::ResultStore::TargetList>();
  list->reserve(plans->size());
  for (const probe::TargetPlan& p : *plans) list->push_back(p.entry);
  store_->Replace(std::move(list));
  plans_ = std::move(plans);
  return true;
}

Engine::Planned Engine::Plan(const config::Config& config,
                             const std::vector<probe::TargetPlan>& previous, bool log_problems) {
  targets::ExpandResult expanded = targets::Expand(config, *files_);
  if (log_problems) {
    for (const targets::DuplicateTarget& d : expanded.duplicates) {
      log_.Warn("duplicate target ignored",
                {{"target", d.host}, {"origin", d.origin}, {"kept", d.kept_origin}});
    }
    for (const targets::TargetFileStatus& f : expanded.files) {
      if (!f.ok) {
        log_.Error("target file unusable, keeping its last good content", {{"error", f.error}});
      }
    }
  }
  Planned planned;
  planned.plans = BuildPlans(expanded.specs, previous, SeriesOptionsFrom(), options_.shard, log_,
                             &planned.unresolved);
  planned.files = std::move(expanded.files);
  return planned;
}

void Engine::RecordStatus(const Planned& planned) {
  std::lock_guard<std::mutex> lock(mu_);
  file_status_ = planned.files;
  for (const std::string& h : planned.unresolved) ++resolve_errors_[h];
}

Expected<bool, std::string> Engine::Apply(const config::Config& config) {
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::shared_ptr<const std::vector<probe::TargetPlan>> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = plans_;
  }
  Planned planned = Plan(config, *previous, /*log_problems=*/true);
  previous.reset();  // the engine's reference is dropped when the new pool is in
  uint32_t workers = config.workers != 0 ? config.workers : options_.default_workers;
  auto ok = StartPool(
      std::make_shared<const std::vector<probe::TargetPlan>>(std::move(planned.plans)), workers);
  if (!ok) return ok;
  Duration every = std::chrono::hours(24);
  std::vector<std::string> paths;
  for (const auto& g : config.groups) every = std::min(every, g.options.resolve_interval);
  for (const auto& f : config.target_files) {
    every = std::min(every, f.options.resolve_interval);
    paths.push_back(f.path);
  }
  auto kept = std::make_shared<const config::Config>(config);
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(kept);
  }
  RecordStatus(planned);
  {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    resolve_every_ = every;
  }
  refresh_cv_.notify_all();
  watcher_.reset();
  if (!paths.empty()) {
    auto w = targets::FileWatcher::Start(paths, [this] {
      {
        std::lock_guard<std::mutex> lock(refresh_mu_);
        refresh_requested_ = true;
      }
      refresh_cv_.notify_all();
    });
    if (w) {
      watcher_ = std::move(w.value());
    } else {
      log_.Warn("cannot watch target files; they are re-read on reload only",
                {{"error", w.error()}});
    }
  }
  return true;
}

void Engine::Refresh() {
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const std::vector<probe::TargetPlan>> previous;
  uint32_t workers = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!config_ || !pool_) return;
    config = config_;
    previous = plans_;
    workers = workers_;
  }
  Planned planned = Plan(*config, *previous, /*log_problems=*/false);
  RecordStatus(planned);
  if (SamePlans(planned.plans, *previous)) return;
  previous.reset();
  log_.Info("targets changed, restarting probes",
            {{"targets", std::to_string(planned.plans.size())}});
  auto plans = std::make_shared<const std::vector<probe::TargetPlan>>(std::move(planned.plans));
  if (auto ok = StartPool(std::move(plans), workers); !ok) {
    log_.Error("cannot apply changed targets", {{"error", ok.error()}});
  }
}

void Engine::RefreshLoop() {
  std::unique_lock<std::mutex> lock(refresh_mu_);
  while (!stopping_) {
    Duration every = resolve_every_;
    refresh_cv_.wait_for(lock, every, [this] { return refresh_requested_ || stopping_; });
    if (stopping_) return;
    refresh_requested_ = false;
    lock.unlock();
    Refresh();
    lock.lock();
  }
}

size_t Engine::target_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return plans_->size();
}

uint32_t Engine::worker_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workers_;
}

uint64_t Engine::rounds_late() const {
  std::lock_guard<std::mutex> lock(mu_);
  return late_before_ + (pool_ ? pool_->counters().rounds_late.load() : 0);
}

uint64_t Engine::unmatched_replies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unmatched_before_ + (pool_ ? pool_->counters().unmatched_replies.load() : 0);
}

uint64_t Engine::rounds_completed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_before_ + (pool_ ? pool_->counters().rounds_completed.load() : 0);
}

void Engine::RenderStatus(metrics::FamilyWriter& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!file_status_.empty()) {
    auto family = [&](const metrics::Family& f, auto value) {
      out.Begin(f);
      for (const auto& file : file_status_) out.Sample({file.name, file.path}, value(file));
    };
    family(metrics::family::kTargetFileOk,
           [](const targets::TargetFileStatus& f) { return f.ok ? 1.0 : 0.0; });
    family(metrics::family::kTargetFileTargets,
           [](const targets::TargetFileStatus& f) { return static_cast<double>(f.target_count); });
  }
  out.Begin(metrics::family::kResolveErrors);
  for (const auto& [host, n] : resolve_errors_) out.Sample({host}, static_cast<double>(n));
}

void Engine::Stop() {
  // The refresher first, so it cannot start a pool after this.
  {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    stopping_ = true;
  }
  refresh_cv_.notify_all();
  if (refresher_.joinable() && refresher_.get_id() != std::this_thread::get_id()) refresher_.join();
  watcher_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_) pool_->Stop();
}

}  // namespace ping_exporter::planning
