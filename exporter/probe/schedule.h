#pragma once
// When rounds start: a stable phase per target inside its interval, and a
// timer wheel of due times so a worker sleeps until the next tick with work.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/duration.h"

namespace ping_exporter::probe {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// FNV-1a 64: stable across runs and machines (std::hash is not).
uint64_t StableHash(std::string_view text);

/// The offset of a target's rounds inside its interval, from its name: the
/// same name keeps its phase across restarts and reloads, and many names
/// spread evenly over the interval.
Duration Phase(std::string_view name, Duration interval);

/// The first slot (epoch + phase + k*interval) at or after `now`. `epoch` is any
/// fixed point shared by all targets (e.g. the process start rounded down).
TimePoint FirstSlot(TimePoint epoch, Duration phase, Duration interval, TimePoint now);

/// The grid a worker aligns its targets' phases to, so the targets of one
/// grid step leave in one wake-up and one sendmmsg(): the smallest of 1, 2,
/// 5, 10, 20, 50 ms that gives about 128 rounds a step at `rounds_per_second`
/// (summed over the worker's targets), else 100 ms; but 10 ms for fewer than
/// 20 rounds a second, which have nothing to batch.
/// Intervals stay exact; only where in its interval a target's rounds fall
/// moves, by less than a step.
Duration PhaseGrid(double rounds_per_second);
/// `phase` rounded down to a multiple of `grid`; unchanged if `grid` is not
/// positive or does not divide `interval` (the alignment would drift).
Duration AlignPhase(Duration phase, Duration grid, Duration interval);

/// After a round that was due at `due` started at `now`: the next slot, and
/// how many slots were skipped because we were more than one interval late
/// (late rounds are counted, never queued up).
struct NextSlot {
  TimePoint due;
  uint64_t skipped;
};
NextSlot Advance(TimePoint due, Duration interval, TimePoint now);

/// A worker's pending events on a grid of `tick`s from `origin`: a ring of
/// per-tick buckets for the next `ring_ticks`, and a min-heap for events
/// further out (long intervals), moved into the ring as they come near.
/// An event fires at the first tick at or after its time, never earlier, so
/// all events of one tick leave in one wake-up. Push and PopDue are O(1)
/// apart from the far heap. Allocation-free once the buckets have grown.
/// Not thread-safe.
class TimerWheel {
 public:
  explicit TimerWheel(TimePoint origin, Duration tick = std::chrono::milliseconds(1),
                      size_t ring_ticks = 4096);

  void Push(TimePoint when, uint32_t slot);
  /// Appends to `out` every slot whose tick is at or before `now`, earlier ticks first.
  void PopDue(TimePoint now, std::vector<uint32_t>* out);
  /// The tick of the earliest pending event; nullopt when empty.
  std::optional<TimePoint> NextDue() const;
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  Duration tick() const { return tick_; }

 private:
  struct Far {
    int64_t tick;
    uint32_t slot;
  };
  struct Later {
    bool operator()(const Far& a, const Far& b) const { return a.tick > b.tick; }
  };
  int64_t TickAtOrAfter(TimePoint t) const;
  void PutInRing(int64_t tick, uint32_t slot);
  /// The first tick in [from, last] with a non-empty bucket, or -1. `last` must be
  /// inside the ring's window.
  int64_t NextOccupied(int64_t from, int64_t last) const;

  TimePoint origin_;
  Duration tick_;
  int64_t ring_ticks_;  // a power of two
  int64_t mask_;
  std::vector<std::vector<uint32_t>> ring_;  // bucket of tick k at k & mask_
  std::vector<uint64_t> occupied_;           // one bit per bucket
  int64_t cursor_ = 0;                       // ticks before this are done
  std::vector<Far> far_;                     // min-heap on tick; all >= cursor_ + ring_ticks_
  size_t size_ = 0;
};

}  // namespace ping_exporter::probe
