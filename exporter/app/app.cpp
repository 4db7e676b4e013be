#include "app/app.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "app/access.h"
#include "app/reloader.h"
#include "app/routes.h"
#include "app/signals.h"
#include "app/wall_clock.h"
#include "http/web_config.h"
#include "ondemand/probe_command.h"
#include "targets/expand.h"

namespace ping_exporter::app {
namespace {

constexpr const char* kVersion = PING_EXPORTER_VERSION;
constexpr const char* kRevision = PING_EXPORTER_REVISION;

metrics::EngineCounts CountsOf(const planning::Engine& engine) {
  metrics::EngineCounts c;
  c.targets = engine.target_count();
  c.workers = engine.worker_count();
  c.rounds_late = engine.rounds_late();
  c.rounds_completed = engine.rounds_completed();
  c.unmatched_replies = engine.unmatched_replies();
  return c;
}

// --config.check: the configuration, every target file it names and the web
// config, as the exporter would read them at start. Says what was checked on
// `out`, every error on `err`; returns the exit code (0 valid, 1 not).
int CheckConfig(const config::Config& cfg, const std::string& web_config_file, std::ostream& out,
                std::ostream& err) {
  size_t hosts = 0;
  for (const auto& g : cfg.groups) hosts += g.hosts.size();
  out << cfg.source_name << ": OK, " << cfg.groups.size() << " group(s), " << hosts
      << " target(s)\n";
  int status = 0;
  targets::TargetFileCache files;
  for (const targets::TargetFileStatus& f : targets::Expand(cfg, files).files) {
    if (f.ok) {
      out << f.path << ": OK, target file " << f.name << ", " << f.target_count << " target(s)\n";
      continue;
    }
    err << f.error << "\n";
    if (!f.excerpt.empty()) err << "  at: " << f.excerpt << "\n";
    status = 1;
  }
  if (!web_config_file.empty()) {
    Expected<http::WebConfig, std::string> web = http::LoadWebConfig(web_config_file);
    if (web) {
      out << web_config_file << ": OK, web config, TLS " << (web->tls ? "on" : "off") << ", "
          << web->basic_auth_users.size() << " basic auth user(s)\n";
    } else {
      err << web.error() << "\n";
      status = 1;
    }
  }
  return status;
}

// /probe's rounds log only warnings and errors (each probe would otherwise log
// "target up"), unless the whole exporter logs at debug level.
LogLevel RoundLogLevel(LogLevel level) {
  return level == LogLevel::kDebug ? level : std::max(level, LogLevel::kWarn);
}

}  // namespace

std::string VersionText() {
  return std::string("ping_exporter ") + kVersion + " (revision " + kRevision + ")";
}

int Run(const Options& o, Logger& log) {
  config::ParseResult cfg = LoadConfig(o.config_file);
  if (!cfg) {
    std::cerr << cfg.error().ToString() << "\n";
    return 1;
  }
  if (o.config_check) return CheckConfig(*cfg, o.web_config_file, std::cout, std::cerr);

  SignalLoop signals;  // before any thread: they all inherit the blocked mask
  // Before any thread starts too: capabilities are per thread, and every thread
  // created later inherits the reduced set.
  if (!o.runas_user.empty()) {
    if (auto dropped = DropPrivileges(o.runas_user, o.icmp_socket, o.config_file, log); !dropped) {
      log.Error("cannot drop privileges", {{"error", dropped.error()}});
      std::cerr << "cannot drop privileges: " << dropped.error() << "\n";
      return 1;
    }
  }

  auto kind = ChooseSocketKind(o.icmp_socket, log);
  if (!kind) {
    std::cerr << kind.error() << "\n";
    return 2;
  }
  planning::EngineOptions eo;
  eo.socket_kind = *kind;
  eo.default_workers = std::max(1u, std::thread::hardware_concurrency());
  eo.shard = *planning::ParseShard(o.shard);
  eo.source_name = o.source_name;
  planning::Engine engine(std::move(eo), log);
  if (auto ok = engine.Apply(*cfg); !ok) {
    log.Error("cannot start probing", {{"error", ok.error()}});
    std::cerr << "cannot start probing: " << ok.error() << "\n"
              << "hint: run as root, grant cap_net_raw (setcap cap_net_raw=+ep), or allow datagram "
                 "ICMP with sysctl net.ipv4.ping_group_range\n";
    return 1;
  }
  log.Info("probing", {{"config", cfg->source_name},
                       {"targets", std::to_string(engine.target_count())},
                       {"workers", std::to_string(engine.worker_count())},
                       {"source", o.source_name},
                       {"socket", icmp::SocketKindName(*kind)}});

  metrics::SelfMetrics self(kVersion, kRevision, [&engine] { return CountsOf(engine); });
  self.RecordReload(true, WallSeconds());  // the first load counts as one
  Reloader reloader(o.config_file, engine, self, log);

  // The status page's graphs; the sampler stops before the history and the engine go.
  const Duration sample_interval = *ParseDuration(o.status_sample_interval);
  status::History history(sample_interval);
  status::Sampler sampler(engine.store(), history, sample_interval);

  auto probe_counters = std::make_shared<ondemand::ProbeCounters>();
  Logger round_log(std::cerr, RoundLogLevel(*ParseLogLevel(o.log_level)),
                   *ParseLogFormat(o.log_format));
  ondemand::ProbeEndpointOptions po;
  po.allow = *ondemand::AllowList::Parse(o.probe_allow);
  po.max_concurrent = o.probe_max_concurrent;
  po.counters = probe_counters;
  po.socket_kind = *kind;
  po.round_logger = &round_log;
  log.Info("probe endpoint", {{"allow", po.allow.empty() ? "(nothing)" : po.allow.ToString()},
                              {"max_concurrent", std::to_string(po.max_concurrent)}});
  status::PageInfo page{kVersion, o.telemetry_path, cfg->source_name, po.allow.ToString()};

  http::ServerOptions so;
  so.listen_address = o.listen_address;
  so.connections = o.http_connections;
  so.max_requests = o.http_max_requests;
  so.request_timeout = *ParseDuration(o.http_request_timeout);
  so.web_config_file = o.web_config_file;
  auto routes = MakeRoutes({{engine, self, *probe_counters},
                            std::move(page),
                            &history,
                            ondemand::MakeProbeHandler(std::move(po), log),
                            reloader,
                            o.enable_lifecycle});
  auto server = http::Server::Start(so, std::move(routes), log);
  if (!server) {
    log.Error("cannot start HTTP server",
              {{"address", o.listen_address}, {"error", server.error()}});
    std::cerr << "cannot listen on " << o.listen_address << ": " << server.error() << "\n";
    return 1;
  }
  std::string host = o.listen_address.substr(0, o.listen_address.rfind(':'));
  log.Info("listening", {{"address", host + ":" + std::to_string((*server)->port())},
                         {"tls", (*server)->tls() ? "true" : "false"}});

  signals.Wait([&reloader] { reloader.Reload(); }, log);
  server->reset();
  engine.Stop();
  log.Info("stopped");
  return 0;
}

int RunProbe(const ProbeCommandOptions& o, Logger& log) {
  auto timeout = ParseDuration(o.timeout);
  auto spacing = ParseDuration(o.spacing);
  if (!timeout || timeout->count() <= 0 || !spacing || spacing->count() <= 0) {
    std::cerr << "probe: --timeout and --spacing must be positive durations like 1s or 250ms\n";
    return 2;
  }
  if (o.count < 1 || o.count > 64) {
    std::cerr << "probe: --count must be between 1 and 64\n";
    return 2;
  }
  config::ProbeOptions round;
  round.timeout = *timeout;
  round.spacing = *spacing;
  round.count = o.count;
  round.interval = round.RoundLength() + std::chrono::seconds(1);
  // The flag's own check already limits it to ip4, ip6 or any.
  config::Family family = config::ParseFamily(o.family).value_or(config::Family::kAny);
  auto kind = ChooseSocketKind(o.icmp_socket, log);
  if (!kind) {
    std::cerr << kind.error() << "\n";
    return 2;
  }
  return ondemand::ProbeOnce(o.hosts, round, family, *kind, std::cout, std::cerr, log);
}

}  // namespace ping_exporter::app
