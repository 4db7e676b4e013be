#pragma once
// The signals the exporter acts on, taken synchronously by one thread.

#include <signal.h>

#include <functional>

#include "common/log.h"

namespace ping_exporter::app {

/// Blocks SIGINT, SIGTERM and SIGHUP in the constructing thread, so that
/// threads started afterwards inherit the mask and only Wait() receives them:
/// construct it before any thread starts. Not copyable; used by one thread.
class SignalLoop {
 public:
  SignalLoop();
  SignalLoop(const SignalLoop&) = delete;
  SignalLoop& operator=(const SignalLoop&) = delete;

  /// Runs `on_hangup` for each SIGHUP; returns at SIGINT or SIGTERM, after
  /// logging "shutting down" with the signal's name.
  void Wait(const std::function<void()>& on_hangup, Logger& log);

 private:
  sigset_t signals_;
};

}  // namespace ping_exporter::app
