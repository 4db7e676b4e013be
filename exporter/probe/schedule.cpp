#include "probe/schedule.h"

#include <algorithm>

namespace ping_exporter::probe {
namespace {
// A function object, not a function pointer, so the heap algorithms inline it.
struct Later {
  bool operator()(const TimerQueue::Entry& a, const TimerQueue::Entry& b) const {
    return a.when > b.when;
  }
};
}  // namespace

uint64_t StableHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  // FNV's low bits mix poorly for short similar names; finish with a mixer.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

Duration Phase(std::string_view name, Duration interval) {
  if (interval.count() <= 0) return Duration::zero();
  return Duration(static_cast<int64_t>(StableHash(name) % static_cast<uint64_t>(interval.count())));
}

TimePoint FirstSlot(TimePoint epoch, Duration phase, Duration interval, TimePoint now) {
  TimePoint t = epoch + phase;
  if (t >= now) return t;
  auto behind = std::chrono::duration_cast<Duration>(now - t);
  int64_t k = (behind.count() + interval.count() - 1) / interval.count();
  return t + interval * k;
}

NextSlot Advance(TimePoint due, Duration interval, TimePoint now) {
  TimePoint next = due + interval;
  uint64_t skipped = 0;
  if (next <= now) {
    auto behind = std::chrono::duration_cast<Duration>(now - next);
    uint64_t k = static_cast<uint64_t>(behind.count() / interval.count()) + 1;
    skipped = k;
    next += interval * static_cast<int64_t>(k);
  }
  return {next, skipped};
}

void TimerQueue::Push(TimePoint when, uint32_t slot) {
  heap_.push_back({when, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

TimerQueue::Entry TimerQueue::Pop() {
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  Entry e = heap_.back();
  heap_.pop_back();
  return e;
}

}  // namespace ping_exporter::probe
