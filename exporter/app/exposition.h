#pragma once
// What one scrape of /metrics contains, in order.

#include "http/server.h"
#include "metrics/format.h"
#include "metrics/self_metrics.h"
#include "ondemand/probe_handler.h"
#include "planning/engine.h"

namespace ping_exporter::app {

/// Where a scrape's families come from; all borrowed.
struct MetricsSources {
  const planning::Engine& engine;
  const metrics::SelfMetrics& self;
  const ondemand::ProbeCounters& probe;
};

/// Writes every family of a scrape in `format`: the per-target families
/// (streamed from the engine's store, ~40 MB of text at 10 000 targets), then
/// the exporter's own metrics, the /probe counters, target files and resolve
/// errors, and the process families. Thread-safe: many scrapes may run at
/// once, beside the probers.
void WriteMetrics(const MetricsSources& sources, metrics::Format format,
                  const http::BodyWriter& write);

}  // namespace ping_exporter::app
