#include "probe/schedule.h"

#include <algorithm>
#include <bit>

namespace ping_exporter::probe {
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

Duration PhaseGrid(double rounds_per_second) {
  using std::chrono::milliseconds;
  // About one full sendmmsg() batch a step: a wake-up with its context
  // switches costs as much as a few probes (about 25 us in this VM), so a
  // busy worker should pay it once per batch, not per few targets.
  constexpr double kRoundsPerStep = 128;
  // Fewer than two rounds a step even on the coarsest grid: there is nothing
  // to batch, and a coarse grid would only move first rounds (up to an
  // interval later, when the aligned slot falls just before the start).
  if (rounds_per_second * 0.1 < 2) return milliseconds(10);
  for (Duration grid : {milliseconds(1), milliseconds(2), milliseconds(5), milliseconds(10),
                        milliseconds(20), milliseconds(50)}) {
    if (rounds_per_second * std::chrono::duration<double>(grid).count() >= kRoundsPerStep) {
      return grid;
    }
  }
  return milliseconds(100);
}

Duration AlignPhase(Duration phase, Duration grid, Duration interval) {
  if (grid.count() <= 0 || interval.count() % grid.count() != 0) return phase;
  return grid * (phase / grid);
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

TimerWheel::TimerWheel(TimePoint origin, Duration tick, size_t ring_ticks)
    : origin_(origin), tick_(std::max(tick, Duration(1))) {
  size_t n = 64;
  while (n < ring_ticks) n *= 2;
  ring_ticks_ = static_cast<int64_t>(n);
  mask_ = ring_ticks_ - 1;
  ring_.resize(n);
  occupied_.resize(n / 64);
}

int64_t TimerWheel::TickAtOrAfter(TimePoint t) const {
  int64_t d = (t - origin_).count();
  int64_t k = d / tick_.count();
  if (k * tick_.count() < d) ++k;  // ceiling, also right for negative d
  return k;
}

void TimerWheel::PutInRing(int64_t tick, uint32_t slot) {
  size_t b = static_cast<size_t>(tick & mask_);
  ring_[b].push_back(slot);
  occupied_[b / 64] |= uint64_t{1} << (b % 64);
}

void TimerWheel::Push(TimePoint when, uint32_t slot) {
  // Ticks up to cursor_ - 1 are done: an event already due fires at the next.
  int64_t tick = std::max(TickAtOrAfter(when), cursor_);
  if (tick < cursor_ + ring_ticks_) {
    PutInRing(tick, slot);
  } else {
    far_.push_back({tick, slot});
    std::push_heap(far_.begin(), far_.end(), Later{});
  }
  ++size_;
}

// Visits only occupied buckets, a word of bits at a time.
int64_t TimerWheel::NextOccupied(int64_t from, int64_t last) const {
  for (int64_t k = from; k <= last;) {
    size_t b = static_cast<size_t>(k & mask_);
    uint64_t bits = occupied_[b / 64] >> (b % 64);
    if (bits == 0) {
      k += static_cast<int64_t>(64 - b % 64);
      continue;
    }
    k += std::countr_zero(bits);
    return k <= last ? k : -1;
  }
  return -1;
}

void TimerWheel::PopDue(TimePoint now, std::vector<uint32_t>* out) {
  int64_t d = (now - origin_).count();
  int64_t last = d >= 0 ? d / tick_.count() : -((-d + tick_.count() - 1) / tick_.count());
  if (last < cursor_) return;
  int64_t end = std::min(last, cursor_ + ring_ticks_ - 1);
  for (int64_t k = NextOccupied(cursor_, end); k >= 0; k = NextOccupied(k + 1, end)) {
    size_t b = static_cast<size_t>(k & mask_);
    std::vector<uint32_t>& bucket = ring_[b];
    out->insert(out->end(), bucket.begin(), bucket.end());
    size_ -= bucket.size();
    bucket.clear();
    occupied_[b / 64] &= ~(uint64_t{1} << (b % 64));
  }
  cursor_ = last + 1;
  // Far events now due go out; those inside the ring's new window move in.
  while (!far_.empty() && far_.front().tick < cursor_ + ring_ticks_) {
    std::pop_heap(far_.begin(), far_.end(), Later{});
    Far f = far_.back();
    far_.pop_back();
    if (f.tick < cursor_) {
      out->push_back(f.slot);
      --size_;
    } else {
      PutInRing(f.tick, f.slot);
    }
  }
}

std::optional<TimePoint> TimerWheel::NextDue() const {
  if (size_ == 0) return std::nullopt;
  int64_t k = NextOccupied(cursor_, cursor_ + ring_ticks_ - 1);
  if (k < 0) k = far_.front().tick;  // the ring is empty, so the heap is not
  return origin_ + tick_ * k;
}

}  // namespace ping_exporter::probe
