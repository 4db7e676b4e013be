#pragma once
// The status page's memory: per target, the last kPoints sample periods of RTT
// and loss (one hour at the default 30 s), and when its state last changed.

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/duration.h"
#include "metrics/store.h"

namespace ping_exporter::status {

/// One target's recent past, oldest point first.
struct SeriesView {
  std::vector<double> rtt_seconds;  ///< mean RTT of the period's replies; NaN: no reply
  std::vector<double> loss;         ///< 0..1 over the period's requests; NaN: nothing sent
  /// State of the last round seen: a metrics::RoundState as int, -1 none yet.
  int state = -1;
  double last_change = 0;  ///< wall seconds of the round that entered `state`; 0 unknown
};

/// A bounded ring of points per target, fed from the result store and read by
/// the status page. Series are kept in a vector indexed like the store's
/// current target list; the mapping is rebuilt only when that list is replaced
/// (a reload), carrying a series over when its identity is unchanged: the same
/// name, and for a name listed several times (all addresses of a host) the same
/// rank among them. Targets that leave the list are forgotten. A remap that
/// moves targets builds the new vector outside the lock (so for a moment the
/// series exist twice); one that keeps every target in place copies nothing.
///
/// Work is spread: ObserveSlice() visits one slice of the targets, and
/// ClosePoint() only marks a period's end; each target turns its counters'
/// growth into a point on its next visit. So a point's edges lag the nominal
/// boundary by up to one pass over all slices (at most a second with the
/// Sampler), by a different amount per target, and each point still covers one
/// whole period of that target's counters: nothing is lost or counted twice.
///
/// Thread-safety: ObserveSlice(), Observe() and ClosePoint() must be called by
/// one thread at a time (the sampler); Get() and size() from any thread. The
/// mutex is held for at most kChunk targets, never a whole pass. Time is passed in.
class History {
 public:
  static constexpr size_t kPoints = 120;

  explicit History(Duration point_interval) : point_interval_(point_interval) {}
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  /// Ends the current period: every target closes one point on its next visit.
  void ClosePoint() { ++point_; }
  /// Visits targets [slice * n / slices, (slice + 1) * n / slices) of the
  /// store's current list (n targets) at wall time `now_wall`: notes state
  /// changes and closes the points ClosePoint() asked for. Remaps the series
  /// first if the list was replaced. `slice` < `slices`.
  void ObserveSlice(const metrics::ResultStore& store, double now_wall, size_t slice,
                    size_t slices);
  /// One whole pass: ClosePoint() first when `close_point`, then every target.
  void Observe(const metrics::ResultStore& store, double now_wall, bool close_point);

  /// The points and state of `list[index]` (a list the store handed out),
  /// nullopt if that target was never observed. O(1) when `list` is the one
  /// last observed; otherwise (the page raced a reload) looked up by name.
  std::optional<SeriesView> Get(const metrics::ResultStore::TargetList& list, size_t index) const;
  /// The first target named `target`, nullopt if never observed. O(log n).
  std::optional<SeriesView> Get(std::string_view target) const;
  size_t size() const;
  /// Length of time the ring covers: kPoints periods.
  Duration span() const { return point_interval_ * kPoints; }

  /// RTTs are kept in 10 µs steps up to this (saturating): 655.34 ms.
  static constexpr double kMaxRttSeconds = 65534 * 10e-6;
  /// Targets handled per lock hold.
  static constexpr size_t kChunk = 256;

 private:
  static constexpr uint16_t kNoRtt = 0xFFFF;
  static constexpr uint8_t kNoLoss = 0xFF;
  // Loss in 1/200 steps (0.5 %), so 0..200 fits a byte.
  static constexpr double kLossSteps = 200;

  struct Series {
    std::array<uint16_t, kPoints> rtt;  // 10 µs units, kNoRtt for none
    std::array<uint8_t, kPoints> loss;  // kLossSteps units, kNoLoss for none
    double prev_rtt_sum = 0;
    // Low 32 bits of the totals: deltas over one period fit easily.
    uint32_t prev_sent = 0, prev_received = 0, prev_rtt_count = 0;
    uint32_t last_change = 0;  // wall seconds
    int8_t state = -1;
    uint8_t head = 0;    // next slot to write: the oldest point
    uint8_t closed = 0;  // low bits of point_ when this series last closed a point
    bool fresh = true;   // prev_* not read yet: the first period starts at the first visit
  };
  using List = metrics::ResultStore::TargetList;

  void Remap(std::shared_ptr<const List> list);
  static void ResetCounters(Series& s);
  void Visit(Series& s, const metrics::TargetCounters& c, double now_wall) const;
  SeriesView View(const Series& s) const;
  // Position in by_name_ of the first target named `name`; needs mu_ or the observing thread.
  std::optional<size_t> FindByName(std::string_view name) const;

 public:
  /// Per-target memory: the series plus its slot in the by-name index.
  static constexpr size_t kBytesPerTarget = sizeof(Series) + sizeof(uint32_t);

 private:
  Duration point_interval_;
  // Written only by the observing thread; it reads them without mu_, and
  // writes them under mu_ so that Get() may read under mu_.
  mutable std::mutex mu_;
  std::shared_ptr<const List> list_;  // the list series_ is indexed like
  std::vector<Series> series_;        // series_[i] belongs to (*list_)[i]
  std::vector<uint32_t> by_name_;     // indices of list_ by (hash of name, name, index)
  // Only the observing thread.
  uint32_t point_ = 0;  // periods ended so far
};

/// When the Sampler wakes and what it does then. A pass over all targets takes
/// one second (or `point_interval` if shorter) in kSlices wakes; a point is
/// closed every `point_interval`, counted in wakes so that every target is
/// visited at least once between two closes. After a stall it skips ahead
/// instead of bursting. Pure: time is passed in. Not thread-safe.
class SamplePacer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kSlices = 10;

  SamplePacer(Duration point_interval, Clock::time_point start);

  struct Step {
    size_t slice = 0;    ///< which slice of kSlices to visit
    bool close = false;  ///< call History::ClosePoint() first
  };
  /// Called at or after next_wake(): what to do now.
  Step Next(Clock::time_point now);
  Clock::time_point next_wake() const { return next_wake_; }
  /// Time between wakes; a point is wakes_per_point() of them.
  Duration period() const { return period_; }
  uint64_t wakes_per_point() const { return per_point_; }

 private:
  Duration period_;
  uint64_t per_point_;
  uint64_t wakes_ = 0;
  Clock::time_point next_wake_;
};

/// Runs History::ObserveSlice on its own low-priority thread (SCHED_BATCH,
/// nice 10: it never preempts a prober) as SamplePacer says. The destructor
/// stops and joins the thread promptly. The store and history are borrowed and
/// must outlive the sampler. Not copyable.
class Sampler {
 public:
  Sampler(const metrics::ResultStore& store, History& history, Duration point_interval);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

 private:
  void Run();
  const metrics::ResultStore& store_;
  History& history_;
  Duration point_interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ping_exporter::status
