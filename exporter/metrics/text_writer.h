#pragma once
// Renders the per-target ping_* families straight into the Prometheus text
// format: O(series), no intermediate metric objects, one pass per family.

#include <string>

#include "metrics/store.h"

namespace ping_exporter::metrics {

/// Appends every ping_* family for the store's current targets to `out`.
/// Targets without a completed round yet are left out. Thread-safe (reads
/// only); `scratch` may be reused between calls to avoid reallocations.
void WriteTargetFamilies(const ResultStore& store, std::string* out);

/// Appends one sample line `name{labels} value\n`; labels may be empty.
void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value);
void AppendSample(std::string* out, std::string_view name, std::string_view labels, uint64_t value);
/// Appends `# HELP` and `# TYPE` lines.
void AppendHeader(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help);

}  // namespace ping_exporter::metrics
