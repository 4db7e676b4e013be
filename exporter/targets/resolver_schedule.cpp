#include "targets/resolver_schedule.h"

#include <algorithm>

namespace ping_exporter::targets {
namespace {

// Same addresses in any order: round-robin DNS rotates its records on every answer.
bool SameSet(const Addresses& a, const Addresses& b) {
  return a.size() == b.size() && std::all_of(a.begin(), a.end(), [&](const IpAddress& ip) {
           return std::find(b.begin(), b.end(), ip) != b.end();
         });
}

}  // namespace

Duration NameSchedule::RetryDelay(uint32_t consecutive_failures, Duration interval) {
  // 1 s, 2 s, 4 s, ... so a name that failed once is back soon, and a dead nameserver
  // is asked about each name at most once per interval in the long run.
  Duration delay =
      std::chrono::seconds(int64_t{1} << std::min<uint32_t>(consecutive_failures - 1, 20));
  return std::min(delay, interval);
}

void NameSchedule::Enqueue(Entry& e, SteadyTime due) { e.queued = queue_.emplace(due, &e); }

void NameSchedule::Track(const std::vector<NameRequest>& names, SteadyTime now) {
  ++generation_;
  for (const NameRequest& n : names) {
    auto [it, added] = entries_.try_emplace(Key{n.host, n.family});
    Entry& e = it->second;
    e.generation = generation_;
    if (added) {
      e.request = n;
      e.state.host = n.host;
      e.state.family = n.family;
      Enqueue(e, now);
      continue;
    }
    bool shorter = n.interval < e.request.interval;
    e.request = n;
    if (shorter && e.lookup == 0 && e.queued->first > now + n.interval) {
      queue_.erase(e.queued);
      Enqueue(e, now + n.interval);
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.generation == generation_) {
      ++it;
      continue;
    }
    if (e.lookup != 0) {
      in_flight_[e.lookup] = nullptr;  // still counts against the bound until it ends
    } else {
      queue_.erase(e.queued);
    }
    it = entries_.erase(it);
  }
}

std::vector<LookupStart> NameSchedule::TakeDue(SteadyTime now) {
  std::vector<LookupStart> out;
  while (!queue_.empty() && in_flight_.size() < max_in_flight_ && queue_.begin()->first <= now) {
    Entry& e = *queue_.begin()->second;
    queue_.erase(queue_.begin());
    e.lookup = next_lookup_++;
    in_flight_.emplace(e.lookup, &e);
    out.push_back({e.lookup, e.request.host, e.request.family, e.request.timeout});
  }
  return out;
}

std::optional<NameChange> NameSchedule::Finish(uint64_t id, LookupResult result, SteadyTime now) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return std::nullopt;
  Entry* found = it->second;
  in_flight_.erase(it);
  if (found == nullptr) return std::nullopt;
  Entry& e = *found;
  e.lookup = 0;
  NameChange change;
  change.before = e.state.addresses;
  if (result && !result->empty()) {
    change.recovered = e.failing;
    // A rotated answer keeps the order in use, so neither the first address nor the
    // all_addresses series flip between lookups.
    if (!SameSet(*result, e.state.addresses)) e.state.addresses = std::move(*result);
    e.state.error.clear();
    e.state.failing_since.reset();
    e.failing = false;
    e.consecutive_failures = 0;
    Enqueue(e, now + e.request.interval);
  } else {
    change.started_failing = !e.failing;
    if (change.started_failing) e.state.failing_since = now;
    e.state.error = result ? std::string("no addresses") : result.error();
    ++e.state.failures;
    e.failing = true;
    ++e.consecutive_failures;
    Enqueue(e, now + RetryDelay(e.consecutive_failures, e.request.interval));
  }
  change.state = e.state;
  return change;
}

SteadyTime NameSchedule::NextDue() const {
  if (queue_.empty() || in_flight_.size() >= max_in_flight_) return SteadyTime::max();
  return queue_.begin()->first;
}

Addresses NameSchedule::AddressesOf(std::string_view host, config::Family family) const {
  auto it = entries_.find(Key{std::string(host), family});
  return it == entries_.end() ? Addresses{} : it->second.state.addresses;
}

std::vector<NameState> NameSchedule::States() const {
  std::vector<NameState> out;
  out.reserve(entries_.size());
  for (const auto& [key, e] : entries_) out.push_back(e.state);
  return out;
}

}  // namespace ping_exporter::targets
