#include "status/status_page.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <vector>

#include "metrics/round_state.h"

namespace ping_exporter::status {
namespace {

constexpr int kGraphWidth = 240;  // 2 px per point
constexpr int kGraphHeight = 36;

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string FormatRtt(double seconds) {
  if (seconds >= 1) return Format("%.2f s", seconds);
  if (seconds >= 0.01) return Format("%.1f ms", seconds * 1e3);
  return Format("%.3f ms", seconds * 1e3);
}

std::string FormatAgo(double seconds) {
  long s = std::lround(std::max(0.0, seconds));
  char buf[48];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%lds ago", s);
  } else if (s < 2 * 3600) {
    std::snprintf(buf, sizeof buf, "%ldm ago", s / 60);
  } else if (s < 2 * 86400) {
    std::snprintf(buf, sizeof buf, "%ldh ago", s / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%ldd ago", s / 86400);
  }
  return buf;
}

std::string FormatUtc(double wall) {
  std::time_t t = static_cast<std::time_t>(wall);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// How long ago `when` was, with the UTC time as its tooltip.
std::string Ago(double when, double now_wall) {
  return "<span title=\"" + FormatUtc(when) + "\">" + FormatAgo(now_wall - when) + "</span>";
}

// One list of problems as a table: at most kMaxProblemRows rows (`cells` gives
// a row's cells, already HTML), then how many more there are.
template <typename T, typename Cells>
void AppendProblemTable(std::string& html, std::string_view id, std::string_view heading,
                        std::initializer_list<std::string_view> header, const std::vector<T>& items,
                        Cells cells) {
  if (items.empty()) return;
  html += "<h3>";
  html += heading;
  html += "</h3><table class=\"problems\" id=\"";
  html += id;
  html += "\"><thead><tr>";
  for (std::string_view h : header) {
    html += "<th>";
    html += h;
    html += "</th>";
  }
  html += "</tr></thead><tbody>\n";
  const size_t shown = std::min(items.size(), kMaxProblemRows);
  for (size_t i = 0; i < shown; ++i) {
    html += "<tr class=\"problem\">";
    for (const std::string& cell : cells(items[i])) {
      html += "<td>";
      html += cell;
      html += "</td>";
    }
    html += "</tr>\n";
  }
  if (items.size() > shown) {
    html += "<tr class=\"more\"><td colspan=\"" + std::to_string(header.size()) + "\">and " +
            std::to_string(items.size() - shown) + " more</td></tr>\n";
  }
  html += "</tbody></table>\n";
}

void AppendProblems(std::string& html, const Problems& p, double now) {
  html += "<section id=\"problems\"><h2>Problems</h2>\n";
  if (p.empty()) html += "<p id=\"no-problems\">No problems</p>\n";
  using Cells = std::vector<std::string>;
  AppendProblemTable(
      html, "problem-files", "Target files failing (their last good content is used)",
      {"File", "Error", "Failing since", "Targets kept"}, p.files, [&](const Problems::File& f) {
        std::string error = HtmlEscape(f.error);
        if (!f.excerpt.empty()) error += "<br><code>" + HtmlEscape(f.excerpt) + "</code>";
        return Cells{HtmlEscape(f.name), error, Ago(f.since, now), std::to_string(f.targets)};
      });
  std::vector<Problems::Reload> reload;
  if (p.reload) reload.push_back(*p.reload);
  AppendProblemTable(html, "problem-reload",
                     "Reload refused (the configuration loaded before keeps running)",
                     {"When", "Error"}, reload, [&](const Problems::Reload& r) {
                       return Cells{Ago(r.time, now), HtmlEscape(r.error)};
                     });
  AppendProblemTable(html, "problem-names", "Names that do not resolve",
                     {"Name", "Error", "Failing since"}, p.names, [&](const Problems::Name& n) {
                       return Cells{HtmlEscape(n.host), HtmlEscape(n.error), Ago(n.since, now)};
                     });
  AppendProblemTable(
      html, "problem-stale", "Targets without a recent round", {"Target", "Address", "Last round"},
      p.stale, [&](const Problems::Stale& s) {
        return Cells{HtmlEscape(s.target), HtmlEscape(s.address), Ago(s.last_round, now)};
      });
  html += "</section>\n";
}

std::string SpanText(Duration span) {
  long minutes = static_cast<long>(std::chrono::duration_cast<std::chrono::minutes>(span).count());
  if (minutes >= 120) return std::to_string(minutes / 60) + " h";
  if (minutes >= 2) return std::to_string(minutes) + " min";
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(span).count()) + " s";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderGraph(const SeriesView& series, std::string_view span_text) {
  const size_t n = series.rtt_seconds.size();
  double max_rtt = 0, max_loss = 0;
  bool any_rtt = false;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isnan(series.rtt_seconds[i])) {
      max_rtt = std::max(max_rtt, series.rtt_seconds[i]);
      any_rtt = true;
    }
    if (!std::isnan(series.loss[i])) max_loss = std::max(max_loss, series.loss[i]);
  }
  // A floor keeps sub-microsecond jitter from filling the whole height.
  const double scale = std::max(max_rtt, 50e-6);
  const double step = n > 0 ? static_cast<double>(kGraphWidth) / n : 0;
  std::string loss_path, rtt_path;
  bool pen_down = false;
  for (size_t i = 0; i < n; ++i) {
    double x = step * i;
    double loss = series.loss[i];
    if (!std::isnan(loss) && loss > 0) {
      double h = std::max(1.0, loss * kGraphHeight);
      char bar[96];
      std::snprintf(bar, sizeof bar, "M%.1f %dv-%.1fh%.1fv%.1fz", x, kGraphHeight, h, step, h);
      loss_path += bar;
    }
    double rtt = series.rtt_seconds[i];
    if (std::isnan(rtt)) {
      pen_down = false;
      continue;
    }
    double y = (kGraphHeight - 2) - rtt / scale * (kGraphHeight - 4);
    double cx = x + step / 2;
    char seg[64];
    if (!pen_down) {
      // A short stub so a lone point still shows.
      std::snprintf(seg, sizeof seg, "M%.1f %.1fh1", cx - 0.5, y);
      pen_down = true;
    } else {
      std::snprintf(seg, sizeof seg, "L%.1f %.1f", cx, y);
    }
    rtt_path += seg;
  }
  std::string title = "last " + std::string(span_text) + ": RTT max " +
                      (any_rtt ? FormatRtt(max_rtt) : std::string("-")) + ", loss max " +
                      Format("%.0f%%", max_loss * 100);
  std::string svg;
  svg.reserve(256 + loss_path.size() + rtt_path.size());
  svg += "<svg class=\"graph\" width=\"";
  svg += std::to_string(kGraphWidth);
  svg += "\" height=\"";
  svg += std::to_string(kGraphHeight);
  svg += "\" viewBox=\"0 0 " + std::to_string(kGraphWidth) + " " + std::to_string(kGraphHeight);
  svg += "\" role=\"img\" aria-label=\"" + HtmlEscape(title) + "\"><title>" + HtmlEscape(title) +
         "</title><rect width=\"100%\" height=\"100%\" fill=\"#f7f7f7\" stroke=\"#ddd\"/>";
  if (!loss_path.empty()) {
    svg += "<path class=\"loss\" fill=\"#d33\" fill-opacity=\"0.55\" d=\"" + loss_path + "\"/>";
  }
  if (!rtt_path.empty()) {
    svg +=
        "<path class=\"rtt\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" "
        "stroke-linejoin=\"round\" d=\"" +
        rtt_path + "\"/>";
    // The top of the scale, so the line's height means something.
    svg += "<text x=\"3\" y=\"10\" font-size=\"9\" fill=\"#555\">" + FormatRtt(scale) + "</text>";
  }
  svg += "</svg>";
  return svg;
}

std::string RenderStatusPage(const metrics::ResultStore& store, const PageInfo& info,
                             const Problems& problems, const History* history, double now_wall) {
  auto targets = store.Current();
  const std::string span = history != nullptr ? SpanText(history->span()) : std::string();
  std::string html;
  html.reserve(2048 + targets->size() * (history != nullptr ? 2048 : 320));
  html +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>ping_exporter</title><style>"
      "body{font-family:sans-serif;margin:1.5em;color:#222}"
      "table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:middle}"
      "th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}"
      "td.graph{padding:2px}svg.graph{display:block}"
      ".alive td.state{background:#cdeccd}.partial td.state{background:#fbe9a6}"
      ".no_response td.state{background:#f4c4c4}.pending td.state{background:#eee}"
      ".legend{font-size:.85em;color:#555}.rttkey{color:#1f5fbf}.losskey{color:#d33}"
      "h2{font-size:1.2em;margin-top:1.2em}h3{font-size:1em}"
      "tr.problem td{background:#fdecea}#no-problems{color:#2a7a2a}"
      "</style></head><body><h1>ping_exporter</h1><p>Version ";
  html += HtmlEscape(info.version);
  html += " &middot; config ";
  html += HtmlEscape(info.config_source);
  html += " &middot; <a href=\"";
  html += HtmlEscape(info.telemetry_path);
  html += "\">Metrics</a> &middot; ";
  html += std::to_string(targets->size());
  html += " target(s)</p>\n";
  AppendProblems(html, problems, now_wall);
  html += "<h2>Targets</h2>\n";
  if (!info.probe_allow.empty()) {
    html +=
        "<p class=\"legend\">On demand: <code>/probe?target=HOST</code> for hosts in "
        "<code>";
    html += HtmlEscape(info.probe_allow);
    html += "</code></p>\n";
  }
  if (history != nullptr) {
    html += "<p class=\"legend\">Graphs: last ";
    html += span;
    html +=
        ", <span class=\"rttkey\">&#9473; mean RTT</span> (scaled per target), "
        "<span class=\"losskey\">&#9646; loss</span>.</p>\n";
  }
  html +=
      "<table id=\"targets\"><thead><tr><th>Target</th><th>Address</th><th>State</th>"
      "<th>Since</th><th>Last round</th><th>Loss</th><th>Last RTT</th>";
  if (history != nullptr) html += "<th>Last " + span + "</th>";
  html += "</tr></thead><tbody>\n";
  metrics::TargetSnapshot s;
  size_t graphs = 0;
  for (size_t index = 0; index < targets->size(); ++index) {
    const metrics::TargetEntry& entry = (*targets)[index];
    entry.stats->Read(&s);
    const char* state = "pending";
    std::string loss = "-", rtt = "-", round = "-", since = "-";
    if (s.has_round) {
      state = metrics::StateName(metrics::StateOf(s.round_sent, s.round_received));
      loss = Format("%.0f%%", metrics::LossRatio(s.round_sent, s.round_received) * 100);
      round = std::to_string(s.round_received) + "/" + std::to_string(s.round_sent);
      if (s.round_received > 0) rtt = FormatRtt(s.rtt_avg);
    }
    std::optional<SeriesView> series;
    // By position: O(1), and each address of a multi-address name has its own series.
    if (history != nullptr) series = history->Get(*targets, index);
    if (series && series->last_change > 0) {
      since = "<span title=\"" + FormatUtc(series->last_change) + "\">" +
              FormatAgo(now_wall - series->last_change) + "</span>";
    }
    html += "<tr class=\"target ";
    html += state;
    html += "\"><td class=\"name\">";
    html += HtmlEscape(entry.info->name);
    html += "</td><td>";
    html += HtmlEscape(entry.info->address);
    html += "</td><td class=\"state\">";
    html += state;
    html += "</td><td>";
    html += since;
    html += "</td><td class=\"num\">";
    html += round;
    html += "</td><td class=\"num\">";
    html += loss;
    html += "</td><td class=\"num\">";
    html += rtt;
    html += "</td>";
    if (history != nullptr) {
      html += "<td class=\"graph\">";
      if (series && graphs < kMaxGraphs) {
        html += RenderGraph(*series, span);
        ++graphs;
      } else {
        html += "-";
      }
      html += "</td>";
    }
    html += "</tr>\n";
  }
  html += "</tbody></table>\n";
  if (graphs == kMaxGraphs && targets->size() > kMaxGraphs) {
    html += "<p class=\"legend\">Graphs are shown for the first " + std::to_string(kMaxGraphs) +
            " targets only.</p>\n";
  }
  html += "</body></html>\n";
  return html;
}

}  // namespace ping_exporter::status
