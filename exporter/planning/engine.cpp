#include "planning/engine.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <span>

#include "common/local_addresses.h"
#include "metrics/exposition.h"
#include "targets/resolver_cares.h"

namespace ping_exporter::planning {
namespace {

// History follows a target's name, static labels and address; an address that
// is gone hands its history to the new address at its position (a moved name).
// This finds the previous plans by name: open addressing over plan positions,
// so a reload of 100 000 targets builds no key strings and allocates one array.
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

  /// The previous plans of `name` (one per address), empty if none.
  std::span<const probe::TargetPlan> Find(std::string_view name) const {
    uint32_t first = slots_[Probe(name)];
    if (first == kEmpty) return {};
    size_t end = first;
    while (end < plans_.size() && plans_[end].entry.info->name == name) ++end;
    return std::span<const probe::TargetPlan>(plans_).subspan(first, end - first);
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

// The previous plan whose history address `index` of `addresses` takes over: the one with
// the same address, else the one at the same position if its address is gone; null if none.
// Peers joining and leaving a mesh name thus never pass one peer's counters to another.
const probe::TargetPlan* Predecessor(std::span<const probe::TargetPlan> before,
                                     const std::vector<std::optional<IpAddress>>& addresses,
                                     size_t index) {
  for (const probe::TargetPlan& p : before) {
    if (p.address == addresses[index]) return &p;
  }
  if (index >= before.size()) return nullptr;
  const std::optional<IpAddress>& gone = before[index].address;
  bool kept = std::find(addresses.begin(), addresses.end(), gone) != addresses.end();
  return kept ? nullptr : &before[index];
}

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
                                          const PlanContext& context, const KnownAddresses& known,
                                          std::vector<targets::NameRequest>* names) {
  PreviousByName old(previous);
  std::vector<probe::TargetPlan> plans;
  plans.reserve(specs.size());
  std::vector<std::optional<IpAddress>> addresses;  // reused for every spec
  for (const targets::TargetSpec& spec : specs) {
    if (!context.shard.Owns(spec.host)) continue;
    auto excluded = [&](const IpAddress& ip) {
      return spec.exclude_local &&
             std::find(context.local_addresses.begin(), context.local_addresses.end(), ip) !=
                 context.local_addresses.end();
    };
    addresses.clear();
    std::optional<IpAddress> literal = IpAddress::Parse(spec.host);
    if (literal && FamilyAccepts(spec.family, *literal)) {
      // The common case at scale: nothing to look up.
      if (!excluded(*literal)) addresses.emplace_back(*literal);
    } else {
      if (names) {
        names->push_back({spec.host, spec.family, spec.options->resolve_interval,
                          spec.options->resolve_timeout});
      }
      targets::Addresses answer = known(spec);
      for (const IpAddress& ip : answer) {
        // A repeated address would make two plans share one history (two writers).
        if (excluded(ip) || std::find(addresses.begin(), addresses.end(), ip) != addresses.end()) {
          continue;
        }
        addresses.emplace_back(ip);
        if (!spec.all_addresses) break;
      }
      // No answer (yet): kept and reported down every round rather than left out.
      if (answer.empty()) addresses.emplace_back(std::nullopt);
    }
    for (size_t i = 0; i < addresses.size(); ++i) {
      probe::TargetPlan plan;
      plan.options = spec.options;
      plan.address = addresses[i];
      // Addresses of one name get distinct phases, so all_addresses does not burst.
      plan.phase = probe::Phase(i == 0 ? spec.host : spec.host + "#" + std::to_string(i),
                                spec.options->interval);
      const probe::TargetPlan* before = Predecessor(old.Find(spec.host), addresses, i);
      std::shared_ptr<const metrics::SeriesOptions> kept = context.series(*spec.options);
      if (before && !(before->entry.info->labels.list() == *spec.labels)) before = nullptr;
      // Other buckets or families: the history cannot carry over.
      if (before && !(*before->entry.stats->options() == *kept)) before = nullptr;
      std::string_view group =
          context.group_label ? std::string_view(spec.source) : std::string_view();
      if (before && before->address == plan.address && before->entry.info->group == group &&
          before->entry.info->source == context.source_name) {
        plan.entry = before->entry;  // unchanged: keep identity, counters, histogram
      } else {
        metrics::TargetInfo info;
        info.name = spec.host;
        info.group = std::string(group);
        info.source = context.source_name;
        info.labels = spec.labels;
        if (addresses[i]) info.address = addresses[i]->ToString();
        info.label_text = metrics::RenderLabels(info);
        if (before) {
          // The address or group moved: a new identity with the target's history.
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
    : options_(std::move(options)),
      log_(logger),
      store_(std::make_unique<metrics::ResultStore>()),
      epoch_(probe::Clock::now()),
      files_(std::make_unique<targets::TargetFileCache>()) {
  std::unique_ptr<targets::NameLookup> lookup =
      options_.lookup ? std::move(options_.lookup) : targets::MakeCaresLookup();
  resolver_ = std::make_unique<targets::ResolverService>(
      std::move(lookup), [this] { RequestRefresh(kAnswerBatch); }, log_);
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
    if (expanded.duplicate_count > expanded.duplicates.size()) {
      log_.Warn("more duplicate targets ignored, not listed",
                {{"count", std::to_string(expanded.duplicate_count - expanded.duplicates.size())}});
    }
  }
  PlanContext context;
  context.shard = options_.shard;
  context.group_label = config.group_label;
  context.source_name = options_.source_name;
  // Read on every plan, so a re-resolved peer list is matched against the addresses this
  // machine has now.
  if (std::any_of(expanded.specs.begin(), expanded.specs.end(),
                  [](const targets::TargetSpec& s) { return s.exclude_local; })) {
    auto local = LocalAddresses();
    if (local) {
      context.local_addresses = std::move(local.value());
    } else if (log_problems) {
      log_.Error("cannot list local addresses; exclude_local leaves nothing out",
                 {{"error", local.error()}});
    }
  }
  Planned planned;
  planned.plans = BuildPlans(
      expanded.specs, previous, context,
      [this](const targets::TargetSpec& s) { return resolver_->AddressesOf(s.host, s.family); },
      &planned.names);
  planned.files = std::move(expanded.files);
  return planned;
}

// Every change of a target file's state is logged once, however often it is
// re-read: going bad, a different error while bad, and being good again.
void Engine::RecordStatus(const Planned& planned) {
  std::vector<targets::TargetFileStatus> before = planned.files;
  {
    std::lock_guard<std::mutex> lock(mu_);
    file_status_.swap(before);
  }
  for (const targets::TargetFileStatus& f : planned.files) {
    auto old = std::find_if(before.begin(), before.end(),
                            [&](const targets::TargetFileStatus& b) { return b.path == f.path; });
    const bool was_bad = old != before.end() && !old->ok;
    const std::string kept = std::to_string(f.target_count);
    if (f.ok) {
      if (was_bad) {
        log_.Info("target file usable again",
                  {{"file", f.name}, {"path", f.path}, {"targets", kept}});
      }
    } else if (!was_bad || old->error != f.error) {
      // The error says where (path:line:column); the excerpt is already escaped and bounded.
      constexpr std::string_view kBad = "target file unusable, keeping its last good content";
      if (f.excerpt.empty()) {
        log_.Error(kBad, {{"file", f.name}, {"error", f.error}, {"targets", kept}});
      } else {
        log_.Error(kBad,
                   {{"file", f.name}, {"error", f.error}, {"text", f.excerpt}, {"targets", kept}});
      }
    }
  }
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
  resolver_->Track(planned.names);
  std::vector<std::string> paths;
  for (const auto& f : config.target_files) paths.push_back(f.path);
  auto kept = std::make_shared<const config::Config>(config);
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(kept);
  }
  RecordStatus(planned);
  watcher_.reset();
  if (!paths.empty()) {
    auto w = targets::FileWatcher::Start(paths, [this] { RequestRefresh(Duration::zero()); });
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
  resolver_->Track(planned.names);  // a changed target file may bring or drop names
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

void Engine::RequestRefresh(Duration delay) {
  {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    auto at = std::chrono::steady_clock::now() + delay;
    if (!refresh_at_ || at < *refresh_at_) refresh_at_ = at;
  }
  refresh_cv_.notify_all();
}

void Engine::RefreshLoop() {
  std::unique_lock<std::mutex> lock(refresh_mu_);
  while (!stopping_) {
    if (!refresh_at_) {
      refresh_cv_.wait(lock);
    } else if (std::chrono::steady_clock::now() < *refresh_at_) {
      refresh_cv_.wait_until(lock, *refresh_at_);
    } else {
      refresh_at_.reset();
      lock.unlock();
      Refresh();
      lock.lock();
    }
  }
}

bool Engine::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_ != nullptr;
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
  for (const targets::NameState& n : resolver_->States()) {
    if (n.failures > 0) out.Sample({n.host}, static_cast<double>(n.failures));
  }
}

std::vector<targets::TargetFileStatus> Engine::FailingFiles() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<targets::TargetFileStatus> out;
  std::copy_if(file_status_.begin(), file_status_.end(), std::back_inserter(out),
               [](const targets::TargetFileStatus& f) { return !f.ok; });
  return out;
}

std::vector<targets::NameState> Engine::FailingNames() const {
  std::vector<targets::NameState> out = resolver_->States();
  std::erase_if(out, [](const targets::NameState& n) { return n.error.empty(); });
  return out;
}

std::vector<metrics::TargetEntry> Engine::StaleTargets(double now_wall) const {
  std::shared_ptr<const std::vector<probe::TargetPlan>> plans;
  {
    std::lock_guard<std::mutex> lock(mu_);
    plans = plans_;
  }
  std::vector<metrics::TargetEntry> out;
  metrics::TargetCounters c;
  for (const probe::TargetPlan& p : *plans) {
    p.entry.stats->ReadCounters(&c);
    Duration limit = std::max<Duration>(kStaleRounds * p.options->interval, kStaleAfter);
    if (c.has_round && now_wall - c.last_round_time > ToSeconds(limit)) out.push_back(p.entry);
  }
  return out;
}

void Engine::Stop() {
  resolver_->Stop();  // no more answers, hence no more refresh requests
  // The refresher next, so it cannot start a pool after this.
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
