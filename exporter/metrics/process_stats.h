#pragma once
// The standard process_* metrics, read from /proc/self at scrape time.

#include <string>

namespace ping_exporter::metrics {

/// Appends process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds,
/// process_start_time_seconds and process_threads. Thread-safe; a family
/// whose /proc file cannot be read is left out rather than reported as 0.
void WriteProcessFamilies(std::string* out);

}  // namespace ping_exporter::metrics
