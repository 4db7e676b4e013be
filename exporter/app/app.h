#pragma once
// The exporter's run-time assembly: config, engine, metrics, HTTP, signals.

#include <string>

#include "app/options.h"
#include "common/log.h"

namespace ping_exporter::app {

/// "ping_exporter VERSION (revision REVISION)", as --version prints it.
std::string VersionText();

/// Runs the exporter until SIGINT or SIGTERM: loads the config (with
/// config_check: also reads its target files and the web config, says on
/// stdout what it checked and returns 0, or 1 with the errors on stderr),
/// blocks signals, drops privileges, chooses the socket kind, starts probing,
/// the self metrics, the status sampler, /probe and the HTTP server, then
/// reloads on SIGHUP. Returns the process exit code: 0 after a clean stop, 1 on
/// a start-up failure (bad config, privileges, probing, listening), 2 on a bad
/// --icmp.socket; the reason is written to stderr and logged. Call once, from
/// the main thread, before any other thread starts. `log` must outlive the call.
int Run(const Options& options, Logger& log);

/// `ping_exporter probe HOST…`: one round to every host, a status line each on
/// stdout. Returns 0 if all are alive, 1 if not, 2 on bad options or a start-up
/// error (message on stderr).
int RunProbe(const ProbeCommandOptions& options, Logger& log);

}  // namespace ping_exporter::app
