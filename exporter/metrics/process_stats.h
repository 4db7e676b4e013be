#pragma once
// The standard process_* metrics, read from /proc/self at scrape time.

#include "metrics/exposition.h"

namespace ping_exporter::metrics {

/// Writes the Scope::kProcess families of metrics/families.h. Thread-safe; a
/// family whose /proc file cannot be read is left out rather than reported as 0.
void WriteProcessFamilies(FamilyWriter& out);

}  // namespace ping_exporter::metrics
