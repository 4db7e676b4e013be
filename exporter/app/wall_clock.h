#pragma once
// Wall time as Prometheus and the status page show it.

#include <chrono>

namespace ping_exporter::app {

/// Seconds since the Unix epoch, now.
inline double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace ping_exporter::app
