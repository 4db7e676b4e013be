#pragma once
// The human view at "/": first what needs attention (broken target files, a
// refused reload, names that do not resolve, stale rounds), then one row per
// target with its state, loss, RTT, when the state last changed, and a small
// inline SVG graph of its last hour.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/store.h"
#include "status/history.h"

namespace ping_exporter::status {

struct PageInfo {
  std::string version;
  std::string telemetry_path = "/metrics";
  std::string config_source;
  std::string probe_allow;  ///< shown next to the /probe hint; empty: not shown
};

/// What the page's "Problems" section lists, gathered by the caller. Plain
/// values; times are wall clock, seconds since the epoch.
struct Problems {
  struct File {           ///< a target file whose latest read failed
    std::string name;     ///< its [[target_files]] name
    std::string error;    ///< "path:line:column: message"
    std::string excerpt;  ///< the offending text, already escaped and bounded; may be ""
    double since = 0;     ///< when it went bad
    size_t targets = 0;   ///< hosts of the last good content, still probed
  };
  struct Reload {  ///< the latest reload, refused: the running configuration is older
    double time = 0;
    std::string error;
  };
  struct Name {  ///< a host name whose latest lookup failed
    std::string host, error;
    double since = 0;  ///< when its failures began
  };
  struct Stale {  ///< a target whose rounds stopped completing
    std::string target, address;
    double last_round = 0;
  };
  std::vector<File> files;
  std::optional<Reload> reload;
  std::vector<Name> names;
  std::vector<Stale> stale;
  bool empty() const { return files.empty() && !reload && names.empty() && stale.empty(); }
};

/// Graphs are drawn for at most this many targets, to keep the page small.
inline constexpr size_t kMaxGraphs = 1000;
/// Each list of problems shows at most this many rows, then how many more there are.
inline constexpr size_t kMaxProblemRows = 20;

/// Renders a self-contained HTML page (no external assets, every dynamic text
/// HTML-escaped): the problems, then the targets. `history` may be null (no
/// graphs, no change times); `now_wall` is the wall clock in seconds, for
/// "5m ago". Thread-safe.
std::string RenderStatusPage(const metrics::ResultStore& store, const PageInfo& info,
                             const Problems& problems, const History* history, double now_wall);

/// An inline <svg> of one series: RTT as a line (scaled to the window's
/// maximum), loss as red bars from the bottom, gaps where there is no data.
std::string RenderGraph(const SeriesView& series, std::string_view span_text);

/// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace ping_exporter::status
