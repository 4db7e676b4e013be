#include "app/reloader.h"

#include <malloc.h>

#include <thread>
#include <utility>

#include "app/wall_clock.h"

namespace ping_exporter::app {

config::ParseResult LoadConfig(const std::string& file) {
  return file.empty() ? config::LoadEmbeddedDefault() : config::LoadFile(file);
}

Reloader::Reloader(std::string config_file, planning::Engine& engine, metrics::SelfMetrics& self,
                   Logger& log)
    : config_file_(std::move(config_file)), engine_(engine), self_(self), log_(log) {}

std::string Reloader::Reload() {
  std::lock_guard<std::mutex> lock(mu_);
  config::ParseResult next = LoadConfig(config_file_);
  std::string error;
  if (!next) {
    error = next.error().ToString();
  } else if (auto ok = engine_.Apply(*next); !ok) {
    error = ok.error();
  }
  // A reload frees the previous targets' plans, workers and store list (tens of MB at
  // 100 000 targets) in small chunks that glibc keeps: give them back to the system.
  malloc_trim(0);
  const double now = WallSeconds();
  self_.RecordReload(error.empty(), now);
  {
    std::lock_guard<std::mutex> lock(failure_mu_);
    failure_ = error.empty() ? std::nullopt : std::optional<Failure>(Failure{now, error});
  }
  if (error.empty()) {
    log_.Info("configuration reloaded", {{"targets", std::to_string(engine_.target_count())}});
  } else {
    log_.Error("reload refused, keeping the running configuration", {{"error", error}});
  }
  return error;
}

std::optional<Reloader::Failure> Reloader::LastFailure() const {
  std::lock_guard<std::mutex> lock(failure_mu_);
  return failure_;
}

std::string Reloader::ReloadOnOwnThread() {
  std::string error;
  std::thread([&] { error = Reload(); }).join();
  return error;
}

}  // namespace ping_exporter::app
