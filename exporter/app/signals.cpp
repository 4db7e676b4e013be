#include "app/signals.h"

#include <pthread.h>

namespace ping_exporter::app {

SignalLoop::SignalLoop() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

void SignalLoop::Wait(const std::function<void()>& on_hangup, Logger& log) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals_, &sig) != 0) continue;
    if (sig == SIGHUP) {
      on_hangup();
      continue;
    }
    log.Info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    return;
  }
}

}  // namespace ping_exporter::app
