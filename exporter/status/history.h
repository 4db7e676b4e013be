#pragma once
// The status page's memory: per target, the last kPoints sample periods of RTT
// and loss (one hour at the default 30 s), and when its state last changed.

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/duration.h"
#include "metrics/store.h"

namespace ping_exporter::status {

/// One target's recent past, oldest point first.
struct SeriesView {
  std::vector<double> rtt_seconds;  ///< mean RTT of the period's replies; NaN: no reply
  std::vector<double> loss;         ///< 0..1 over the period's requests; NaN: nothing sent
  /// State of the last round seen: 0 alive, 1 partial, 2 no response, -1 none yet.
  int state = -1;
  double last_change = 0;  ///< wall seconds of the round that entered `state`; 0 unknown
};

/// A bounded ring of points per target, fed from the result store by
/// Observe() and read by the status page. Memory is fixed per target (see
/// kBytesPerTarget); targets that leave the store are forgotten. Thread-safe
/// (one mutex, held for one pass over the targets); time is passed in.
class History {
 public:
  static constexpr size_t kPoints = 120;

  explicit History(Duration point_interval) : point_interval_(point_interval) {}
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  /// Reads every target of `store` at wall time `now_wall`: notes state
  /// changes and, when `close_point`, ends the current period, turning the
  /// packet and RTT counters' growth since the previous period into one point.
  void Observe(const metrics::ResultStore& store, double now_wall, bool close_point);

  /// The target's points and state, nullopt if it was never observed.
  std::optional<SeriesView> Get(std::string_view target) const;
  size_t size() const;
  /// Length of time the ring covers: kPoints periods.
  Duration span() const { return point_interval_ * kPoints; }

  /// RTTs are kept in 10 µs steps up to this (saturating): 655.34 ms.
  static constexpr double kMaxRttSeconds = 65534 * 10e-6;

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
    bool seen = false;
  };

 public:
  /// Per-target ring and counters (the map node and key come on top).
  static constexpr size_t kBytesPerTarget = sizeof(Series);

 private:
  Duration point_interval_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Series> series_;  // guarded by mu_
  uint32_t head_ = 0;                               // next slot to write; guarded by mu_
  metrics::TargetSnapshot scratch_;                 // reused; guarded by mu_
};

/// Runs History::Observe on its own thread: every second (or every
/// `point_interval` if shorter) for state changes, closing a point every
/// `point_interval`. The destructor stops and joins the thread promptly. The
/// store and history are borrowed and must outlive the sampler. Not copyable.
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
