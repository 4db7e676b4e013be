// ping_exporter: parses the flags and runs the app module (or the probe subcommand).

#include <malloc.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/app.h"
#include "common/log.h"

namespace pe = ping_exporter;

int main(int argc, char** argv) {
  // Each HTTP thread would otherwise get its own malloc arena and keep a
  // scrape's worth of freed memory in it: RSS grew by ~5 MB per thread.
  mallopt(M_ARENA_MAX, 2);
  // A client hanging up mid-scrape must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  pe::app::Options flags;
  pe::app::ProbeCommandOptions probe_flags;
  CLI::App app{"ping_exporter: pings hosts and exports up/down, loss and RTT to Prometheus"};
  app.set_version_flag("--version", pe::app::VersionText());
  app.add_option("--config.file", flags.config_file,
                 "TOML configuration file (default: embedded config pinging 127.0.0.1 and ::1)");
  app.add_flag("--config.check", flags.config_check,
               "Validate the configuration and exit (0 = valid)");
  app.add_option("--web.listen-address", flags.listen_address,
                 "Address to listen on: host:port, [v6]:port or :port (port 0 picks one)")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", flags.telemetry_path, "Path for the metrics")
      ->capture_default_str()
      ->check(pe::app::CheckTelemetryPath);
  app.add_option("--web.config.file", flags.web_config_file,
                 "exporter-toolkit web config (TLS, basic auth)");
  app.add_option("--web.max-connections", flags.http_connections,
                 "Connections served at once, idle and slow clients included (one HTTP thread "
                 "each); more wait to be accepted")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--web.max-requests", flags.http_max_requests,
                 "Requests to /metrics, / and /probe handled at once; more wait their turn")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  // Also how long an idle client (connected, no request yet) holds one of those connections.
  app.add_option("--web.request-timeout", flags.http_request_timeout,
                 "Longest wait for a client's whole request head, or for progress reading its "
                 "body or writing the answer")
      ->capture_default_str()
      ->check(pe::app::CheckRequestTimeout);
  app.add_flag("--web.enable-lifecycle", flags.enable_lifecycle,
               "Enable POST /-/reload (SIGHUP always reloads)");
  app.add_option("--log.level", flags.log_level, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--log.format", flags.log_format, "logfmt or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"logfmt", "json"}));
  app.add_option("--icmp.socket", flags.icmp_socket,
                 "auto (datagram where ping_group_range allows, else raw), raw or dgram")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "raw", "dgram"}));

  app.add_option("--shard", flags.shard,
                 "I/N: probe only the targets whose stable hash falls in shard I of N (0-based)")
      ->capture_default_str()
      ->check(pe::app::CheckShard);

  app.add_option(
         "--probe.allow", flags.probe_allow,
         "/probe may ping only these: comma-separated CIDRs and host names (\"*.example.org\" "
         "for a domain); a name must be listed AND resolve into a listed network; empty: none")
      ->capture_default_str()
      ->check(pe::app::CheckProbeAllow);
  app.add_option("--probe.max-concurrent", flags.probe_max_concurrent,
                 "/probe rounds running at once; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  // Hidden: tests shorten the status page's sample period.
  app.add_option("--status.sample-interval", flags.status_sample_interval,
                 "Period of one point of the status page's graphs")
      ->group("")
      ->check(pe::app::CheckSampleInterval);
  app.add_option("--runas.user", flags.runas_user,
                 "When started as root: switch to this user, keeping only CAP_NET_RAW (none with "
                 "--icmp.socket=dgram)");

  CLI::App* probe = app.add_subcommand(
      "probe", "Ping hosts once and print Alive / Partial Response / No response");
  probe->add_option("hosts", probe_flags.hosts, "Hosts to ping")->required();
  probe->add_option("--count", probe_flags.count, "Echo requests per host")->capture_default_str();
  probe->add_option("--timeout", probe_flags.timeout, "Wait for the last reply")
      ->capture_default_str();
  probe->add_option("--spacing", probe_flags.spacing, "Between requests")->capture_default_str();
  probe->add_option("--family", probe_flags.family, "ip4, ip6 or any")
      ->capture_default_str()
      ->check(CLI::IsMember({"ip4", "ip6", "any"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  pe::Logger log(std::cerr, *pe::ParseLogLevel(flags.log_level),
                 *pe::ParseLogFormat(flags.log_format));
  if (probe->parsed()) {
    probe_flags.icmp_socket = flags.icmp_socket;  // a top-level flag the subcommand uses
    return pe::app::RunProbe(probe_flags, log);
  }
  return pe::app::Run(flags, log);
}
