#include "app/reloader.h"

#include <malloc.h>

#include <utility>

#include "app/wall_clock.h"

namespace ping_exporter::app {

config::ParseResult LoadConfig(const std::string& file) {
  return file.empty() ? config::LoadEmbeddedDefault() : config::LoadFile(file);
}

Reloader::Reloader(std::string config_file, planning::Engine& engine, metrics::SelfMetrics& self,
                   Logger& log)
    : config_file_(std::move(config_file)),
      engine_(engine),
      self_(self),
      log_(log),
      thread_([this] { Loop(); }) {}

Reloader::~Reloader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string Reloader::Reload() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t mine = ++requested_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return completed_ >= mine || stopping_; });
  return completed_ >= mine ? last_error_ : "the exporter is shutting down";
}

void Reloader::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || requested_ > completed_; });
    if (stopping_) return;
    const uint64_t serving = requested_;
    lock.unlock();
    std::string error = ReloadHere();
    lock.lock();
    completed_ = serving;
    last_error_ = std::move(error);
    cv_.notify_all();
  }
}

std::string Reloader::ReloadHere() {
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

}  // namespace ping_exporter::app
