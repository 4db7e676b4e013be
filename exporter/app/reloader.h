#pragma once
// The reload protocol, one for SIGHUP and POST /-/reload.

#include <mutex>
#include <optional>
#include <string>

#include "common/log.h"
#include "config/config.h"
#include "metrics/self_metrics.h"
#include "planning/engine.h"

namespace ping_exporter::app {

/// The configuration `file` names, or the embedded default when it is "".
config::ParseResult LoadConfig(const std::string& file);

/// Reads the configuration again and applies it to the engine; an invalid one
/// leaves the running configuration in place. Every attempt is recorded in the
/// self metrics (ping_exporter_config_last_reload_*) and logged. Thread-safe:
/// reloads run one at a time. The engine, self metrics and logger are borrowed
/// and must outlive the Reloader. Not copyable.
class Reloader {
 public:
  Reloader(std::string config_file, planning::Engine& engine, metrics::SelfMetrics& self,
           Logger& log);
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  /// Reloads on the calling thread. Returns "" on success, else why it was refused.
  std::string Reload();
  /// The same on a new thread with a normal stack, joined before returning: for
  /// callers on CivetWeb's request threads, whose ~100 KiB stacks are too small
  /// for toml++ unwinding a parse error.
  std::string ReloadOnOwnThread();

  /// A refused reload: when (wall clock, seconds since the epoch) and why.
  struct Failure {
    double time = 0;
    std::string error;
  };
  /// The latest reload if it was refused, so the running configuration is older
  /// than the file; nullopt once one succeeds. Does not wait for a running reload.
  std::optional<Failure> LastFailure() const;

 private:
  const std::string config_file_;
  planning::Engine& engine_;
  metrics::SelfMetrics& self_;
  Logger& log_;
  std::mutex mu_;                  // serialises reloads
  mutable std::mutex failure_mu_;  // guards failure_ only
  std::optional<Failure> failure_;
};

}  // namespace ping_exporter::app
