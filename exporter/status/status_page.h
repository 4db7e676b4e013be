#pragma once
// The human view at "/": one row per target with its state, loss and RTT.

#include <string>

#include "metrics/store.h"

namespace ping_exporter::status {

struct PageInfo {
  std::string version;
  std::string telemetry_path = "/metrics";
  std::string config_source;
};

/// Renders a self-contained HTML page (no external assets). Thread-safe.
std::string RenderStatusPage(const metrics::ResultStore& store, const PageInfo& info);

/// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace ping_exporter::status
