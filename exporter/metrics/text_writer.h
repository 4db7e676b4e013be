#pragma once
// The text formats: Prometheus 0.0.4 and OpenMetrics 1.0, with names, types,
// units and help taken from the family table (metrics/families.h). The
// per-target families go straight from snapshots to text: O(series), no
// intermediate metric objects, streamed in pieces so a 10 000-target scrape
// never holds the whole body in memory.

#include <span>
#include <string>
#include <string_view>

#include "metrics/format.h"
#include "metrics/out_buffer.h"
#include "metrics/target_rows.h"

namespace ping_exporter::metrics {

/// Writes the per-target families (Scope::kTarget) for `rows` in `format`
/// (kText or kOpenMetrics), in table order, each row's series in row order.
/// With kAll, the families of `headers` (the widest profile in use) that have
/// no sample get their HELP and TYPE anyway.
/// Rows must hold a completed round. The one code path for /metrics and
/// /probe, so the two cannot differ. Reads only. OpenMetrics' `# EOF` is left
/// to the caller (Trailer()), which may append more families.
void WriteTargetRowsText(std::span<const TargetRow> rows, RowFamilies which, Format format,
                         const Sink& sink, std::optional<Profile> headers = std::nullopt);

namespace detail {
/// Appends `family`'s `# HELP` and `# TYPE` lines (and `# UNIT` in OpenMetrics).
void AppendTextHeader(std::string* out, const Family& family, Format format);
/// Appends `name="value"`, the value escaped.
void AppendLabelPair(std::string* out, std::string_view name, std::string_view value);
/// Appends a sample value as the text formats spell it.
void AppendTextValue(std::string* out, double value);
}  // namespace detail

}  // namespace ping_exporter::metrics
