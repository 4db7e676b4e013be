#pragma once
// The human view at "/": one row per target with its state, loss, RTT, when
// the state last changed, and a small inline SVG graph of its last hour.

#include <string>
#include <string_view>

#include "metrics/store.h"
#include "status/history.h"

namespace ping_exporter::status {

struct PageInfo {
  std::string version;
  std::string telemetry_path = "/metrics";
  std::string config_source;
  std::string probe_allow;  ///< shown next to the /probe hint; empty: not shown
};

/// Graphs are drawn for at most this many targets, to keep the page small.
inline constexpr size_t kMaxGraphs = 1000;

/// Renders a self-contained HTML page (no external assets, every dynamic text
/// HTML-escaped). `history` may be null (no graphs, no change times);
/// `now_wall` is the wall clock in seconds, for "5m ago". Thread-safe.
std::string RenderStatusPage(const metrics::ResultStore& store, const PageInfo& info,
                             const History* history, double now_wall);

/// An inline <svg> of one series: RTT as a line (scaled to the window's
/// maximum), loss as red bars from the bottom, gaps where there is no data.
std::string RenderGraph(const SeriesView& series, std::string_view span_text);

/// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace ping_exporter::status
