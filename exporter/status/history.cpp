#include "status/history.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <functional>

#include "metrics/round_state.h"

namespace ping_exporter::status {
namespace {

uint32_t Low32(uint64_t v) { return static_cast<uint32_t>(v); }

using List = metrics::ResultStore::TargetList;

const std::string& NameAt(const List& list, uint32_t i) { return list[i].info->name; }

uint64_t NameHash(std::string_view name) { return std::hash<std::string_view>{}(name); }

// The by-name order: hash of the name, then the name (only on a hash tie),
// then the index. Sorting on the hash keeps the sort from chasing a pointer
// to every name on each comparison.
struct Key {
  uint64_t hash;
  uint32_t index;
};

int CompareNames(const List& a_list, Key a, const List& b_list, Key b) {
  if (a.hash != b.hash) return a.hash < b.hash ? -1 : 1;
  return NameAt(a_list, a.index).compare(NameAt(b_list, b.index));
}

std::vector<Key> SortedKeys(const List& list) {
  std::vector<Key> keys(list.size());
  for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = Key{NameHash(NameAt(list, i)), i};
  std::sort(keys.begin(), keys.end(), [&list](Key a, Key b) {
    int c = CompareNames(list, a, list, b);
    return c < 0 || (c == 0 && a.index < b.index);
  });
  return keys;
}

// Best effort: a sampler that keeps its priority still works, it only competes
// with the probers for the CPU. SCHED_BATCH keeps its wake-ups from preempting
// a running worker; nice 10 more gives it a small share under contention.
void LowerThisThreadsPriority() {
  sched_param param{};
  param.sched_priority = 0;
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  const id_t tid = static_cast<id_t>(gettid());
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) (void)setpriority(PRIO_PROCESS, tid, std::min(19, nice + 10));
}

}  // namespace

void History::Observe(const metrics::ResultStore& store, double now_wall, bool close_point) {
  if (close_point) ClosePoint();
  ObserveSlice(store, now_wall, 0, 1);
}

void History::ObserveSlice(const metrics::ResultStore& store, double now_wall, size_t slice,
                           size_t slices) {
  std::shared_ptr<const List> list = store.Current();
  // list_ and series_ change only on this thread, so reading them unlocked is safe.
  if (list != list_) Remap(std::move(list));
  const List& targets = *list_;
  const size_t n = series_.size();
  const size_t lo = slice * n / slices;
  const size_t hi = (slice + 1) * n / slices;
  std::array<metrics::TargetCounters, kChunk> counters;
  for (size_t begin = lo; begin < hi; begin += kChunk) {
    const size_t end = std::min(hi, begin + kChunk);
    // The seqlock reads need no lock of ours; only the writes to series do.
    for (size_t i = begin; i < end; ++i) targets[i].stats->ReadCounters(&counters[i - begin]);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = begin; i < end; ++i) Visit(series_[i], counters[i - begin], now_wall);
  }
}

void History::Visit(Series& s, const metrics::TargetCounters& c, double now_wall) const {
  const uint8_t point = static_cast<uint8_t>(point_);
  if (s.fresh) {
    // The first period starts now: only growth from here on counts.
    s.fresh = false;
    s.closed = point;
    s.prev_sent = Low32(c.sent_total);
    s.prev_received = Low32(c.received_total);
    s.prev_rtt_count = Low32(c.rtt_count);
    s.prev_rtt_sum = c.rtt_sum;
  }
  if (c.has_round) {
    int8_t state = static_cast<int8_t>(metrics::StateOf(c.round_sent, c.round_received));
    if (state != s.state) {
      s.state = state;
      // The round that showed the new state is the best time we have for the change.
      double when = c.last_round_time > 0 ? c.last_round_time : now_wall;
      s.last_change = static_cast<uint32_t>(std::max(0.0, when));
    }
  }
  // Normally 0 or 1; more only if this target was not visited for several
  // periods (a reload moved it behind the pass), modulo 256.
  const uint8_t due = static_cast<uint8_t>(point - s.closed);
  if (due == 0) return;
  s.closed = point;
  // Modular differences survive the 32-bit wrap; a huge one means the
  // counters restarted (the target came back with new stats).
  uint32_t sent = Low32(c.sent_total) - s.prev_sent;
  uint32_t received = Low32(c.received_total) - s.prev_received;
  uint32_t count = Low32(c.rtt_count) - s.prev_rtt_count;
  double sum = c.rtt_sum - s.prev_rtt_sum;
  if (sent > (1u << 31) || received > (1u << 31) || count > (1u << 31) || sum < 0) {
    sent = Low32(c.sent_total);
    received = Low32(c.received_total);
    count = Low32(c.rtt_count);
    sum = c.rtt_sum;
  }
  const uint8_t loss =
      sent == 0
          ? kNoLoss
          : static_cast<uint8_t>(std::lround(metrics::LossRatio(sent, received) * kLossSteps));
  uint16_t rtt = kNoRtt;
  if (count != 0 && sum >= 0) {
    double mean = std::min(sum / count, kMaxRttSeconds);
    rtt = static_cast<uint16_t>(std::lround(mean / 10e-6));
  }
  // Missed periods get the same mean, so the ring stays aligned in time with
  // the other targets' rings.
  for (size_t k = 0; k < std::min<size_t>(due, kPoints); ++k) {
    s.rtt[s.head] = rtt;
    s.loss[s.head] = loss;
    s.head = static_cast<uint8_t>((s.head + 1) % kPoints);
  }
  s.prev_sent = Low32(c.sent_total);
  s.prev_received = Low32(c.received_total);
  s.prev_rtt_count = Low32(c.rtt_count);
  s.prev_rtt_sum = c.rtt_sum;
}

void History::Remap(std::shared_ptr<const List> list) {
  const List& now = *list;
  // Both lists in by-name order: one merge walk pairs the k-th target of a
  // name in the old list with the k-th in the new one.
  std::vector<Key> keys = SortedKeys(now);
  constexpr uint32_t kNew = UINT32_MAX;
  std::vector<uint32_t> source(now.size(), kNew);  // old index per new index
  if (list_) {
    const List& before = *list_;
    size_t i = 0, j = 0;
    Key old_key{};
    if (!by_name_.empty()) old_key = Key{NameHash(NameAt(before, by_name_[0])), by_name_[0]};
    while (i < keys.size() && j < by_name_.size()) {
      int c = CompareNames(now, keys[i], before, old_key);
      if (c == 0) source[keys[i].index] = old_key.index;
      if (c <= 0) ++i;                        // c < 0: a new target
      if (c >= 0 && ++j < by_name_.size()) {  // c > 0: a removed target, forgotten
        old_key = Key{NameHash(NameAt(before, by_name_[j])), by_name_[j]};
      }
    }
  }
  std::vector<uint32_t> order(keys.size());
  for (size_t k = 0; k < keys.size(); ++k) order[k] = keys[k].index;
  bool same_places = list_ && now.size() == series_.size();
  for (size_t i = 0; same_places && i < source.size(); ++i) same_places = source[i] == i;
  if (same_places) {
    // Every target kept its place (say, an address moved): no copy, a few resets.
    std::shared_ptr<const List> old_list = std::move(list);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < now.size(); ++i) {
      if (now[i].stats != (*list_)[i].stats) ResetCounters(series_[i]);
    }
    std::swap(list_, old_list);
    std::swap(by_name_, order);
    return;
  }
  Series empty;
  empty.rtt.fill(kNoRtt);
  empty.loss.fill(kNoLoss);
  std::vector<Series> series;
  series.reserve(now.size());
  for (size_t i = 0; i < now.size(); ++i) {
    if (source[i] == kNew) {
      series.push_back(empty);
      continue;
    }
    series.push_back(series_[source[i]]);
    Series& s = series.back();
    if (now[i].stats != (*list_)[source[i]].stats) ResetCounters(s);
  }
  // Freed after the lock is released (locals die after the guard).
  std::shared_ptr<const List> old_list = std::move(list);
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(list_, old_list);
  std::swap(series_, series);
  std::swap(by_name_, order);
}

void History::ResetCounters(Series& s) {
  // New stats (its labels changed) start from zero: count all of them.
  if (s.fresh) return;
  s.prev_sent = s.prev_received = s.prev_rtt_count = 0;
  s.prev_rtt_sum = 0;
}

SeriesView History::View(const Series& s) const {
  SeriesView v;
  v.state = s.state;
  v.last_change = s.last_change;
  v.rtt_seconds.reserve(kPoints);
  v.loss.reserve(kPoints);
  // head is the oldest slot (the next to be overwritten); the newest comes last.
  for (size_t i = 0; i < kPoints; ++i) {
    size_t slot = (s.head + i) % kPoints;
    v.rtt_seconds.push_back(s.rtt[slot] == kNoRtt ? std::nan("") : s.rtt[slot] * 10e-6);
    v.loss.push_back(s.loss[slot] == kNoLoss ? std::nan("") : s.loss[slot] / kLossSteps);
  }
  return v;
}

std::optional<size_t> History::FindByName(std::string_view name) const {
  if (!list_) return std::nullopt;
  const List& list = *list_;
  const uint64_t hash = NameHash(name);
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&list, hash](uint32_t i, std::string_view n) {
                               uint64_t h = NameHash(NameAt(list, i));
                               return h < hash || (h == hash && NameAt(list, i) < n);
                             });
  if (it == by_name_.end() || NameAt(list, *it) != name) return std::nullopt;
  return static_cast<size_t>(it - by_name_.begin());
}

std::optional<SeriesView> History::Get(const metrics::ResultStore::TargetList& list,
                                       size_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<size_t> found;
  if (&list == list_.get()) {
    if (index < series_.size()) found = index;
  } else if (index < list.size()) {
    // The page holds another list than the one mapped (a reload in between):
    // find the target by name, preferring the entry of that name with the same stats.
    const metrics::TargetEntry& entry = list[index];
    if (std::optional<size_t> first = FindByName(entry.info->name)) {
      found = by_name_[*first];
      for (size_t k = *first;
           k < by_name_.size() && NameAt(*list_, by_name_[k]) == entry.info->name; ++k) {
        if ((*list_)[by_name_[k]].stats == entry.stats) {
          found = by_name_[k];
          break;
        }
      }
    }
  }
  if (!found || series_[*found].fresh) return std::nullopt;
  return View(series_[*found]);
}

std::optional<SeriesView> History::Get(std::string_view target) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<size_t> first = FindByName(target);
  if (!first || series_[by_name_[*first]].fresh) return std::nullopt;
  return View(series_[by_name_[*first]]);
}

size_t History::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_.size();
}

SamplePacer::SamplePacer(Duration point_interval, Clock::time_point start) : next_wake_(start) {
  if (point_interval <= Duration::zero()) point_interval = std::chrono::seconds(1);
  const Duration pass = std::min<Duration>(point_interval, std::chrono::seconds(1));
  // A whole number of wakes per point, at least one pass, so every slice is
  // visited between two closes; the wake period is then exact.
  const int64_t slices = static_cast<int64_t>(kSlices);
  const int64_t wanted = (point_interval.count() * slices + pass.count() - 1) / pass.count();
  per_point_ = static_cast<uint64_t>(std::max(slices, wanted));
  period_ = point_interval / static_cast<int64_t>(per_point_);
  if (period_ <= Duration::zero()) period_ = Duration(1);
}

SamplePacer::Step SamplePacer::Next(Clock::time_point now) {
  Step step;
  step.slice = static_cast<size_t>(wakes_ % kSlices);
  step.close = wakes_ > 0 && wakes_ % per_point_ == 0;
  ++wakes_;
  next_wake_ += period_;
  // After a stall, carry on from now instead of catching up in a burst.
  if (next_wake_ <= now) next_wake_ = now + period_;
  return step;
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
  LowerThisThreadsPriority();
  using Clock = SamplePacer::Clock;
  auto wall = [] { return ToSeconds(std::chrono::system_clock::now().time_since_epoch()); };
  SamplePacer pacer(point_interval_, Clock::now());
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (wake_.wait_until(lock, pacer.next_wake(), [this] { return stop_; })) break;
    SamplePacer::Step step = pacer.Next(Clock::now());
    lock.unlock();
    if (step.close) history_.ClosePoint();
    history_.ObserveSlice(store_, wall(), step.slice, SamplePacer::kSlices);
    lock.lock();
  }
}

}  // namespace ping_exporter::status
