#include "status/status_page.h"

#include <cstdio>

namespace ping_exporter::status {

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderStatusPage(const metrics::ResultStore& store, const PageInfo& info) {
  auto targets = store.Current();
  std::string html;
  html.reserve(1024 + targets->size() * 256);
  html +=
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ping_exporter</title>"
      "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
      ".alive{background:#d4f7d4}.partial{background:#fff3c4}.no_response{background:#f7d4d4}"
      ".pending{background:#eee}</style></head><body><h1>ping_exporter</h1><p>Version ";
  html += HtmlEscape(info.version);
  html += " &middot; config ";
  html += HtmlEscape(info.config_source);
  html += " &middot; <a href=\"";
  html += HtmlEscape(info.telemetry_path);
  html += "\">Metrics</a></p><table id=\"targets\"><thead><tr><th>Target</th><th>Address</th>"
          "<th>State</th><th>Last round</th><th>Loss</th><th>RTT avg</th></tr></thead><tbody>\n";
  metrics::TargetSnapshot s;
  for (const auto& entry : *targets) {
    entry.stats->Read(&s);
    const char* state = "pending";
    if (s.has_round) {
      state = s.round_sent > 0 && s.round_received >= s.round_sent ? "alive"
              : s.round_received > 0                              ? "partial"
                                                                  : "no_response";
    }
    char loss[32] = "-", rtt[32] = "-", round[32] = "-";
    if (s.has_round) {
      double l = s.round_sent == 0 ? 1.0 : 1.0 - double(s.round_received) / s.round_sent;
      std::snprintf(loss, sizeof loss, "%.0f%%", l * 100);
      std::snprintf(round, sizeof round, "%u/%u", s.round_received, s.round_sent);
      if (s.round_received > 0) std::snprintf(rtt, sizeof rtt, "%.3f ms", s.rtt_avg * 1e3);
    }
    html += "<tr class=\"target ";
    html += state;
    html += "\"><td>";
    html += HtmlEscape(entry.info->name);
    html += "</td><td>";
    html += HtmlEscape(entry.info->address);
    html += "</td><td>";
    html += state;
    html += "</td><td>";
    html += round;
    html += "</td><td>";
    html += loss;
    html += "</td><td>";
    html += rtt;
    html += "</td></tr>\n";
  }
  html += "</tbody></table></body></html>\n";
  return html;
}

}  // namespace ping_exporter::status
