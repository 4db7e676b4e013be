#pragma once
// Renders the per-target ping_* families straight into the Prometheus text
// format: O(series), no intermediate metric objects, streamed in pieces so a
// 10 000-target scrape never holds the whole 40 MB body in memory.

#include <functional>
#include <string>
#include <string_view>

#include "metrics/store.h"

namespace ping_exporter::metrics {

/// Receives rendered text in pieces of up to about 256 KiB.
using TextSink = std::function<void(std::string_view)>;

/// Writes every ping_* family for the store's current targets to `sink`.
/// Targets without a completed round yet are left out. Thread-safe (reads only).
void WriteTargetFamilies(const ResultStore& store, const TextSink& sink);
/// Same, appending to a string.
void WriteTargetFamilies(const ResultStore& store, std::string* out);

/// Appends one sample line `name{labels} value\n`; labels may be empty.
void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value);
void AppendSample(std::string* out, std::string_view name, std::string_view labels, uint64_t value);
/// Appends `# HELP` and `# TYPE` lines.
void AppendHeader(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help);

}  // namespace ping_exporter::metrics
