#include "status/history.h"

#include <algorithm>
#include <cmath>

namespace ping_exporter::status {
namespace {

int StateOf(const metrics::TargetSnapshot& s) {
  if (s.round_sent > 0 && s.round_received >= s.round_sent) return 0;
  return s.round_received > 0 ? 1 : 2;
}

uint32_t Low32(uint64_t v) { return static_cast<uint32_t>(v); }

}  // namespace

void History::Observe(const metrics::ResultStore& store, double now_wall, bool close_point) {
  std::shared_ptr<const metrics::ResultStore::TargetList> targets = store.Current();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, s] : series_) s.seen = false;
  for (const metrics::TargetEntry& entry : *targets) {
    entry.stats->Read(&scratch_);
    const metrics::TargetSnapshot& snap = scratch_;
    auto [it, inserted] = series_.try_emplace(entry.info->name);
    Series& s = it->second;
    s.seen = true;
    if (inserted) {
      s.rtt.fill(kNoRtt);
      s.loss.fill(kNoLoss);
      // The first period starts now: only growth from here on counts.
      s.prev_sent = Low32(snap.sent_total);
      s.prev_received = Low32(snap.received_total);
      s.prev_rtt_count = Low32(snap.rtt_count);
      s.prev_rtt_sum = snap.rtt_sum;
    }
    if (snap.has_round) {
      int8_t state = static_cast<int8_t>(StateOf(snap));
      if (state != s.state) {
        s.state = state;
        // The round that showed the new state is the best time we have for the change.
        double when = snap.last_round_time > 0 ? snap.last_round_time : now_wall;
        s.last_change = static_cast<uint32_t>(std::max(0.0, when));
      }
    }
    if (!close_point) continue;
    // Modular differences survive the 32-bit wrap; a huge one means the
    // counters restarted (the target came back with new stats).
    uint32_t sent = Low32(snap.sent_total) - s.prev_sent;
    uint32_t received = Low32(snap.received_total) - s.prev_received;
    uint32_t count = Low32(snap.rtt_count) - s.prev_rtt_count;
    double sum = snap.rtt_sum - s.prev_rtt_sum;
    if (sent > (1u << 31) || received > (1u << 31) || count > (1u << 31) || sum < 0) {
      sent = Low32(snap.sent_total);
      received = Low32(snap.received_total);
      count = Low32(snap.rtt_count);
      sum = snap.rtt_sum;
    }
    received = std::min(received, sent);
    s.loss[head_] = sent == 0 ? kNoLoss
                              : static_cast<uint8_t>(std::lround(
                                    (1.0 - static_cast<double>(received) / sent) * kLossSteps));
    if (count == 0 || !(sum >= 0)) {
      s.rtt[head_] = kNoRtt;
    } else {
      double mean = std::min(sum / count, kMaxRttSeconds);
      s.rtt[head_] = static_cast<uint16_t>(std::lround(mean / 10e-6));
    }
    s.prev_sent = Low32(snap.sent_total);
    s.prev_received = Low32(snap.received_total);
    s.prev_rtt_count = Low32(snap.rtt_count);
    s.prev_rtt_sum = snap.rtt_sum;
  }
  std::erase_if(series_, [](const auto& kv) { return !kv.second.seen; });
  // Every ring advances together, so slot i means the same period for all
  // targets (a series that appears later starts with "none" points).
  if (close_point) head_ = static_cast<uint32_t>((head_ + 1) % kPoints);
}

std::optional<SeriesView> History::Get(std::string_view target) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(std::string(target));
  if (it == series_.end()) return std::nullopt;
  const Series& s = it->second;
  SeriesView v;
  v.state = s.state;
  v.last_change = s.last_change;
  v.rtt_seconds.reserve(kPoints);
  v.loss.reserve(kPoints);
  // head_ is the oldest slot (the next to be overwritten); the newest comes last.
  for (size_t i = 0; i < kPoints; ++i) {
    size_t slot = (head_ + i) % kPoints;
    v.rtt_seconds.push_back(s.rtt[slot] == kNoRtt ? std::nan("") : s.rtt[slot] * 10e-6);
    v.loss.push_back(s.loss[slot] == kNoLoss ? std::nan("") : s.loss[slot] / kLossSteps);
  }
  return v;
}

size_t History::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.size();
}

Sampler::Sampler(const metrics::ResultStore& store, History& history, Duration point_interval)
    : store_(store), history_(history), point_interval_(point_interval) {
  thread_ = std::thread([this] { Run(); });
}

Sampler::~Sampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Sampler::Run() {
  using Clock = std::chrono::steady_clock;
  const Duration tick = std::min<Duration>(point_interval_, std::chrono::seconds(1));
  auto wall = [] { return ToSeconds(std::chrono::system_clock::now().time_since_epoch()); };
  Clock::time_point next_tick = Clock::now();
  Clock::time_point next_point = next_tick + point_interval_;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (wake_.wait_until(lock, next_tick, [this] { return stop_; })) break;
    Clock::time_point now = Clock::now();
    bool close = now >= next_point;
    if (close) {
      next_point += point_interval_;
      // After a stall, realign instead of closing a burst of empty points.
      if (next_point <= now) next_point = now + point_interval_;
    }
    next_tick = std::min(now + tick, next_point);
    lock.unlock();
    history_.Observe(store_, wall(), close);
    lock.lock();
  }
}

}  // namespace ping_exporter::status
