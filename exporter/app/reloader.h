#pragma once
// The reload protocol, one for SIGHUP and POST /-/reload.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/log.h"
#include "config/config.h"
#include "metrics/self_metrics.h"
#include "planning/engine.h"

namespace ping_exporter::app {

/// The configuration `file` names, or the embedded default when it is "".
config::ParseResult LoadConfig(const std::string& file);

/// Reads the configuration again and applies it to the engine; an invalid one
/// leaves the running configuration in place. Every attempt is recorded in the
/// self metrics (ping_exporter_config_last_reload_*) and logged.
///
/// Reloads run one at a time on the Reloader's own thread, started by the
/// constructor: the threads a reload starts (probers, the target file watcher)
/// inherit that thread's priority, scheduling policy, signal mask and capabilities
/// whoever asked, so construct it on a thread that has the probers' (the main
/// thread, after dropping privileges; HTTP threads lower their own priority). It
/// also has a normal stack, which CivetWeb's ~100 KiB ones are not (toml++ unwinding a
/// parse error needs more). Thread-safe. The engine, self metrics and logger are
/// borrowed and must outlive the Reloader. Not copyable.
class Reloader {
 public:
  Reloader(std::string config_file, planning::Engine& engine, metrics::SelfMetrics& self,
           Logger& log);
  /// Waits for a reload in progress, then stops the thread.
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  /// Reloads on the Reloader's thread and waits for it. Returns "" on success, else
  /// why it was refused. A call made while a reload runs is served by the next one,
  /// which reads the file after the call (calls arriving together share it).
  std::string Reload();

  /// A refused reload: when (wall clock, seconds since the epoch) and why.
  struct Failure {
    double time = 0;
    std::string error;
  };
  /// The latest reload if it was refused, so the running configuration is older
  /// than the file; nullopt once one succeeds. Does not wait for a running reload.
  std::optional<Failure> LastFailure() const;

 private:
  std::string ReloadHere();
  void Loop();

  const std::string config_file_;
  planning::Engine& engine_;
  metrics::SelfMetrics& self_;
  Logger& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0;  // guarded by mu_: reloads asked for so far
  uint64_t completed_ = 0;  // guarded by mu_: the request count the last finished reload served
  std::string last_error_;  // guarded by mu_: that reload's result
  bool stopping_ = false;   // guarded by mu_
  mutable std::mutex failure_mu_;  // guards failure_ only
  std::optional<Failure> failure_;
  std::thread thread_;  // last: starts once the fields above exist
};

}  // namespace ping_exporter::app
