#pragma once
// What the status page lists as problems, gathered from where each is known.

#include "app/reloader.h"
#include "planning/engine.h"
#include "status/status_page.h"

namespace ping_exporter::app {

/// The status page's problems now (`now_wall`: seconds since the epoch): the
/// engine's failing target files, names that do not resolve and stale targets,
/// and the reloader's refused reload. Thread-safe; takes no lock for long.
status::Problems CollectProblems(const planning::Engine& engine, const Reloader& reloader,
                                 double now_wall);

}  // namespace ping_exporter::app
