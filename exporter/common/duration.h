#pragma once
// Duration strings as Prometheus writes them: "1s", "250ms", "1m30s", "2h".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ping_exporter {

using Duration = std::chrono::nanoseconds;

/// Parses "<number><unit>" terms (units ns, us, µs, ms, s, m, h, d), e.g. "1m30s".
/// Returns nullopt on syntax errors or overflow; "0s" parses to zero.
std::optional<Duration> ParseDuration(std::string_view text);

/// Shortest exact rendering, e.g. 1500ms -> "1.5s", 250ms -> "250ms".
std::string FormatDuration(Duration d);

/// Seconds as a double, for metrics.
inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace ping_exporter
