#pragma once
// When to look up which host name, and what the answers were: the bookkeeping of the
// resolver service, without threads, clocks or I/O (time is passed in).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/expected.h"
#include "common/ip_address.h"
#include "config/config.h"
#include "targets/resolver.h"

namespace ping_exporter::targets {

using SteadyTime = std::chrono::steady_clock::time_point;
using LookupResult = Expected<Addresses, std::string>;

/// One name to keep resolved, with its group's settings. A plain value.
struct NameRequest {
  std::string host;
  config::Family family = config::Family::kAny;
  Duration interval = std::chrono::minutes(5);  ///< re-resolve this often after an answer
  Duration timeout = std::chrono::seconds(2);   ///< how long one lookup may take
};

/// What is known about one name. A plain value.
struct NameState {
  std::string host;
  config::Family family = config::Family::kAny;
  Addresses addresses;    ///< the latest good answer, kept while lookups fail; empty if none yet
  std::string error;      ///< why the latest lookup failed; "" if it succeeded or none finished
  uint64_t failures = 0;  ///< failed lookups since the name was first tracked
  std::optional<SteadyTime> failing_since;  ///< when the current run of failures began
};

/// A lookup to start now.
struct LookupStart {
  uint64_t id = 0;  ///< hand it back to Finish()
  std::string host;
  config::Family family = config::Family::kAny;
  Duration timeout{};
};

/// What one finished lookup changed.
struct NameChange {
  Addresses before;              ///< the name's addresses before this lookup
  NameState state;               ///< the name as it is now
  bool started_failing = false;  ///< failed after a success, or as its first result
  bool recovered = false;        ///< succeeded after failing
  bool addresses_changed() const { return before != state.addresses; }
};

/// The tracked names, their latest answers and when each is due again. A name is looked up
/// at once when first tracked, then `interval` after each answer; after a failure sooner, with
/// a back-off from 1 s doubling up to `interval`. At most `max_in_flight` lookups run at once;
/// due names wait their turn, earliest first. Not thread-safe. Never throws except
/// std::bad_alloc.
class NameSchedule {
 public:
  explicit NameSchedule(size_t max_in_flight) : max_in_flight_(max_in_flight) {}
  NameSchedule(const NameSchedule&) = delete;
  NameSchedule& operator=(const NameSchedule&) = delete;

  /// Makes `names` the tracked set. New names are due at `now`; kept ones keep their answers
  /// and schedule (a shorter interval takes effect at once); the others are forgotten, and
  /// the answers of their lookups still running are ignored. Names are keyed by host and
  /// family.
  void Track(const std::vector<NameRequest>& names, SteadyTime now);

  /// Names due by `now`, earliest first, as many as the in-flight bound allows; each counts
  /// as in flight until Finish() gets its id.
  std::vector<LookupStart> TakeDue(SteadyTime now);

  /// Records the result of lookup `id`. nullopt if the id is unknown or its name was
  /// forgotten meanwhile. An empty address list counts as a failure. The same addresses in
  /// another order (round-robin DNS) are no change: the order in use is kept.
  std::optional<NameChange> Finish(uint64_t id, LookupResult result, SteadyTime now);

  /// When TakeDue() would next return something: the earliest due name, or
  /// SteadyTime::max() if there is none or the in-flight bound is reached.
  SteadyTime NextDue() const;

  /// The latest good addresses of a tracked name; empty if none (yet) or not tracked.
  Addresses AddressesOf(std::string_view host, config::Family family) const;
  /// Every tracked name, by host then family.
  std::vector<NameState> States() const;
  size_t in_flight() const { return in_flight_.size(); }

  /// Delay before retrying a name after `consecutive_failures` (>= 1) failed lookups.
  static Duration RetryDelay(uint32_t consecutive_failures, Duration interval);

 private:
  struct Entry;
  using Queue = std::multimap<SteadyTime, Entry*>;
  struct Entry {
    NameRequest request;
    NameState state;
    bool failing = false;
    uint32_t consecutive_failures = 0;
    uint64_t lookup = 0;     // the lookup in flight; 0 while queued
    Queue::iterator queued;  // valid while queued
    uint64_t generation = 0;
  };
  using Key = std::pair<std::string, config::Family>;

  void Enqueue(Entry& e, SteadyTime due);

  size_t max_in_flight_;
  uint64_t next_lookup_ = 1;
  uint64_t generation_ = 0;
  std::map<Key, Entry> entries_;                    // node-based: Entry pointers stay valid
  Queue queue_;                                     // every entry not in flight, by due time
  std::unordered_map<uint64_t, Entry*> in_flight_;  // null once its name was forgotten
};

}  // namespace ping_exporter::targets
