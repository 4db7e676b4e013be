#include "probe/engine.h"

#include <map>

#include "targets/resolver.h"

namespace ping_exporter::probe {

bool Shard::Owns(std::string_view target) const {
  // A different mix from Phase(), so shards are not correlated with phases.
  return count <= 1 || StableHash(target) / 7 % count == index;
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

std::vector<TargetPlan> BuildPlans(const config::Config& config,
                                   const std::vector<TargetPlan>& previous, size_t bucket_count,
                                   const Shard& shard, Logger& logger) {
  // A target keeps its history across reloads while its name and static labels
  // stay; a moved address only changes the `address` label.
  auto key = [](const metrics::TargetInfo& info) {
    std::string k = info.name;
    for (const auto& [n, v] : info.labels) k += "\x1f" + n + "=" + v;
    return k;
  };
  std::map<std::string, const TargetPlan*> old;
  for (const TargetPlan& p : previous) old.emplace(key(*p.entry.info), &p);
  std::vector<TargetPlan> plans;
  for (const config::TargetGroup& group : config.groups) {
    for (const std::string& host : group.hosts) {
      if (!shard.Owns(host)) continue;
      TargetPlan plan;
      plan.options = group.options;
      plan.phase = Phase(host, group.options.interval);
      metrics::TargetInfo info;
      info.name = host;
      info.labels = group.labels;
      auto addr = targets::Resolve(host, group.family);
      if (addr) {
        plan.address = *addr;
        info.address = addr->ToString();
      } else {
        logger.Warn("cannot resolve target", {{"target", host}, {"error", addr.error()}});
      }
      info.label_text = metrics::RenderLabels(info);
      auto it = old.find(key(info));
      if (it == old.end()) {
        plan.entry = metrics::TargetEntry::Make(std::move(info), bucket_count);
      } else if (it->second->entry.info->label_text == info.label_text) {
        plan.entry = it->second->entry;  // unchanged: keep identity, counters, histogram
      } else {
        plan.entry.info = std::make_shared<const metrics::TargetInfo>(std::move(info));
        plan.entry.stats = it->second->entry.stats;
      }
      plans.push_back(std::move(plan));
    }
  }
  return plans;
}

Engine::Engine(EngineOptions options, std::vector<double> bucket_bounds, Logger& logger)
    : options_(options),
      log_(logger),
      store_(std::make_unique<metrics::ResultStore>(std::move(bucket_bounds))),
      epoch_(Clock::now()) {}

Engine::~Engine() { Stop(); }

Expected<bool, std::string> Engine::Apply(const config::Config& config) {
  std::lock_guard<std::mutex> lock(mu_);
  if (config.rtt_buckets.size() != store_->bucket_bounds().size() ||
      !std::equal(config.rtt_buckets.begin(), config.rtt_buckets.end(),
                  store_->bucket_bounds().begin())) {
    if (pool_) return MakeUnexpected(std::string("rtt_buckets cannot change on reload; restart instead"));
  }
  std::vector<TargetPlan> plans = BuildPlans(config, plans_, store_->bucket_bounds().size(), options_.shard, log_);
  uint32_t workers = config.workers != 0 ? config.workers : options_.default_workers;
  PoolOptions po;
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
  auto started = WorkerPool::Start(po, plans, store_->bucket_bounds(), log_);
  if (!started) {
    std::string error = started.error();
    if (pool_) {
      // Bring the previous configuration back.
      po.workers = workers_;
      auto again = WorkerPool::Start(po, plans_, store_->bucket_bounds(), log_);
      if (again) pool_ = std::move(again.value());
    }
    return MakeUnexpected(error);
  }
  pool_ = std::move(started.value());
  workers_ = workers;
  auto list = std::make_shared<metrics::ResultStore::TargetList>();
  for (const TargetPlan& p : plans) list->push_back(p.entry);
  store_->Replace(std::move(list));
  plans_ = std::move(plans);
  return true;
}

size_t Engine::target_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return plans_.size();
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

void Engine::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_) pool_->Stop();
}

}  // namespace ping_exporter::probe
