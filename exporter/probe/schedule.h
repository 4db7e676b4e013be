#pragma once
// When rounds start: a stable phase per target inside its interval, and a
// min-heap of due times so a worker sleeps until exactly the next event.

#include <chrono>
#include <cstdint>
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

/// After a round that was due at `due` started at `now`: the next slot, and
/// how many slots were skipped because we were more than one interval late
/// (late rounds are counted, never queued up).
struct NextSlot {
  TimePoint due;
  uint64_t skipped;
};
NextSlot Advance(TimePoint due, Duration interval, TimePoint now);

/// A min-heap of (time, slot) entries. Allocation-free after Reserve().
/// Not thread-safe.
class TimerQueue {
 public:
  struct Entry {
    TimePoint when;
    uint32_t slot;
  };
  void Reserve(size_t n) { heap_.reserve(n); }
  void Push(TimePoint when, uint32_t slot);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const Entry& Top() const { return heap_.front(); }
  Entry Pop();

 private:
  std::vector<Entry> heap_;
};

}  // namespace ping_exporter::probe
