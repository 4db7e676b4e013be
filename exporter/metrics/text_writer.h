#pragma once
// The Prometheus text format 0.0.4, with names, types and help taken from the
// family table (metrics/families.h). The per-target families go straight from
// snapshots to text: O(series), no intermediate metric objects, streamed in
// pieces so a 10 000-target scrape never holds the whole 40 MB body in memory.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "metrics/families.h"
#include "metrics/store.h"

namespace ping_exporter::metrics {

/// Receives rendered text in pieces of up to about 256 KiB.
using TextSink = std::function<void(std::string_view)>;

/// A target's identity and one consistent copy of its numbers.
struct TargetRow {
  const TargetInfo* info = nullptr;
  TargetSnapshot snap;
};

/// Which per-target families WriteTargetRows() writes.
enum class RowFamilies : uint8_t {
  kAll,    ///< every one, each with HELP and TYPE even without samples (a scrape)
  kRound,  ///< those of the last round (Family::round) that have samples (a /probe answer)
};

/// Writes the per-target families (Scope::kTarget) for `rows`, in table
/// order, each row's series in row order. Rows must hold a completed round.
/// `bucket_bounds` are the histogram's upper bounds (+Inf implied). The one
/// code path for /metrics and /probe, so the two cannot differ. Reads only.
void WriteTargetRows(std::span<const TargetRow> rows, std::span<const double> bucket_bounds,
                     RowFamilies which, const TextSink& sink);

/// Every per-target family for the store's current targets. Targets without a
/// completed round yet are left out. Thread-safe (reads only).
void WriteTargetFamilies(const ResultStore& store, const TextSink& sink);
/// Same, appending to a string.
void WriteTargetFamilies(const ResultStore& store, std::string* out);

/// `name="value"`, the value escaped: one label of a sample's label text.
std::string LabelPair(std::string_view name, std::string_view value);
/// Appends one sample line `name{labels} value\n`; labels may be empty.
void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value);
void AppendSample(std::string* out, std::string_view name, std::string_view labels, uint64_t value);
/// Appends `family`'s `# HELP` and `# TYPE` lines.
void AppendHeader(std::string* out, const Family& family);
/// Appends `family`'s header and its only sample, which has no labels.
void AppendFamily(std::string* out, const Family& family, double value);
void AppendFamily(std::string* out, const Family& family, uint64_t value);

}  // namespace ping_exporter::metrics
