#pragma once
// Keeps host names resolved beside the probers: lookups run on the service's own thread,
// many at once with a bound, each name on its own interval. Nobody ever waits for one.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/log.h"
#include "targets/resolver_schedule.h"

namespace ping_exporter::targets {

/// Asynchronous lookups, the I/O under ResolverService: c-ares in production
/// (targets/resolver_cares.h), a fake in tests. Start() and Wait() are called from one thread
/// only (the service's); Wake() from any.
class NameLookup {
 public:
  struct Finished {
    uint64_t id = 0;
    LookupResult result;
  };
  virtual ~NameLookup() = default;

  /// Starts looking up a name (never an IP literal); its result comes out of a later Wait()
  /// under `id`, after at most about `timeout`. Every started lookup finishes exactly once,
  /// unless the NameLookup is destroyed first.
  virtual void Start(uint64_t id, const std::string& host, config::Family family,
                     Duration timeout) = 0;
  /// Blocks until a lookup finished, `until` passed or Wake() was called, and returns the
  /// lookups that finished (maybe none).
  virtual std::vector<Finished> Wait(SteadyTime until) = 0;
  /// Makes the current (or else the next) Wait() return soon. Thread-safe.
  virtual void Wake() = 0;
};

/// Runs a NameSchedule on its own thread over a NameLookup. IP literals are answered without
/// a lookup (a literal of the wrong family fails like a name that does not resolve).
///
/// Thread-safe. Track() and the readers take the service's mutex only briefly, never across a
/// lookup, so a nameserver that never answers delays nothing but the names. `on_change` runs
/// on the service's thread without that mutex held, after a batch of answers changed some
/// name's addresses (a first answer included); it must not call Stop(). State changes of a
/// name (first failure, recovery) are logged once each, not every retry. RAII: the destructor
/// stops the thread and abandons lookups in flight. Not copyable.
class ResolverService {
 public:
  struct Options {
    size_t max_in_flight = 256;  ///< lookups running at once
  };

  ResolverService(std::unique_ptr<NameLookup> lookup, std::function<void()> on_change, Logger& log,
                  Options options);
  ResolverService(std::unique_ptr<NameLookup> lookup, std::function<void()> on_change, Logger& log)
      : ResolverService(std::move(lookup), std::move(on_change), log, Options{}) {}
  ~ResolverService();
  ResolverService(const ResolverService&) = delete;
  ResolverService& operator=(const ResolverService&) = delete;

  /// Makes `names` the tracked set (see NameSchedule::Track); new names are looked up at once.
  void Track(const std::vector<NameRequest>& names);
  /// The latest good addresses of a tracked name, in the resolver's order; empty if none yet.
  Addresses AddressesOf(std::string_view host, config::Family family) const;
  /// Every tracked name's state, by host then family.
  std::vector<NameState> States() const;
  /// Stops the thread (idempotent). After it returns, on_change never runs again.
  void Stop();

 private:
  void Run();

  std::unique_ptr<NameLookup> lookup_;
  std::function<void()> on_change_;
  Logger& log_;
  mutable std::mutex mu_;  // guards schedule_ and stopping_
  NameSchedule schedule_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ping_exporter::targets
