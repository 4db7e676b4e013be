// ping_exporter: wires config, engine, metrics and HTTP together. No logic here
// beyond flags, start-up order, signals and reload.

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "config/config.h"
#include "http/server.h"
#include "icmp/socket.h"
#include "metrics/process_stats.h"
#include "metrics/self_metrics.h"
#include "metrics/text_writer.h"
#include "ondemand/probe_command.h"
#include "ondemand/probe_handler.h"
#include "privileges/privileges.h"
#include "probe/engine.h"
#include "status/history.h"
#include "status/status_page.h"

namespace pe = ping_exporter;

namespace {

constexpr const char* kVersion = PING_EXPORTER_VERSION;
constexpr const char* kRevision = PING_EXPORTER_REVISION;

struct Flags {
  std::string config_file;
  bool config_check = false;
  std::string listen_address = ":9823";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  std::string icmp_socket = "auto";
  uint32_t http_threads = 8;
  std::string http_request_timeout = "5s";
  std::string shard = "0/1";
  std::string probe_allow = "127.0.0.0/8,::1/128,localhost";
  uint32_t probe_max_concurrent = 4;
  std::string status_sample_interval = "30s";
  std::string runas_user;
  // probe subcommand
  std::vector<std::string> probe_hosts;
  std::string probe_timeout = "1s";
  std::string probe_spacing = "100ms";
  uint32_t probe_count = 2;
  std::string probe_family = "any";
};

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

pe::Expected<pe::icmp::SocketKind, std::string> ChooseSocketKind(const std::string& flag,
                                                                 pe::Logger& log) {
  using pe::icmp::SocketKind;
  if (flag == "raw") return SocketKind::kRaw;
  if (flag == "dgram") return SocketKind::kDatagram;
  if (flag != "auto") return pe::MakeUnexpected("--icmp.socket must be auto, raw or dgram");
  if (pe::icmp::DatagramSocketsAllowed(pe::IpFamily::kV4)) {
    log.Info("using unprivileged datagram ICMP sockets",
             {{"reason", "net.ipv4.ping_group_range allows it"}});
    return SocketKind::kDatagram;
  }
  log.Info("using raw ICMP sockets",
           {{"reason", "datagram ICMP not allowed for this group (net.ipv4.ping_group_range)"}});
  return SocketKind::kRaw;
}

// Read-only pages answer GET (and HEAD, which the server runs as GET) only.
std::optional<pe::http::Response> RejectUnlessGet(const pe::http::Request& req) {
  if (req.method == "GET") return std::nullopt;
  pe::http::Response r;
  r.status = 405;
  r.headers.push_back({"Allow", "GET, HEAD"});
  r.body = "method not allowed\n";
  return r;
}

pe::config::ParseResult LoadConfig(const Flags& flags) {
  return flags.config_file.empty() ? pe::config::LoadEmbeddedDefault()
                                   : pe::config::LoadFile(flags.config_file);
}

int RunProbe(const Flags& flags, pe::Logger& log) {
  pe::config::ProbeOptions opts;
  auto timeout = pe::ParseDuration(flags.probe_timeout);
  auto spacing = pe::ParseDuration(flags.probe_spacing);
  if (!timeout || timeout->count() <= 0 || !spacing || spacing->count() <= 0) {
    std::cerr << "probe: --timeout and --spacing must be positive durations like 1s or 250ms\n";
    return 2;
  }
  if (flags.probe_count < 1 || flags.probe_count > 64) {
    std::cerr << "probe: --count must be between 1 and 64\n";
    return 2;
  }
  opts.timeout = *timeout;
  opts.spacing = *spacing;
  opts.count = flags.probe_count;
  opts.interval = opts.RoundLength() + std::chrono::seconds(1);
  pe::config::Family family = flags.probe_family == "ip4"   ? pe::config::Family::kIp4
                              : flags.probe_family == "ip6" ? pe::config::Family::kIp6
                                                            : pe::config::Family::kAny;
  auto kind = ChooseSocketKind(flags.icmp_socket, log);
  if (!kind) {
    std::cerr << kind.error() << "\n";
    return 2;
  }
  return pe::ondemand::ProbeOnce(flags.probe_hosts, opts, family, *kind, std::cout, std::cerr, log);
}

int RunExporter(const Flags& flags, pe::Logger& log) {
  pe::config::ParseResult cfg = LoadConfig(flags);
  if (!cfg) {
    std::cerr << cfg.error().ToString() << "\n";
    return 1;
  }
  size_t hosts = 0;
  for (const auto& g : cfg->groups) hosts += g.hosts.size();
  if (flags.config_check) {
    std::cout << cfg->source_name << ": OK, " << cfg->groups.size() << " group(s), " << hosts
              << " target(s)\n";
    return 0;
  }

  // Signals are taken synchronously by the main thread only; every thread
  // started below inherits this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Before any thread starts: capabilities are per thread, and every thread
  // created later inherits the reduced set. Raw sockets keep working through
  // CAP_NET_RAW (reloads and /probe open new ones).
  if (!flags.runas_user.empty()) {
    auto dropped = pe::privileges::DropToUser(flags.runas_user, flags.icmp_socket != "dgram");
    if (!dropped) {
      log.Error("cannot drop privileges", {{"error", dropped.error()}});
      std::cerr << "cannot drop privileges: " << dropped.error() << "\n";
      return 1;
    }
    log.Info(dropped->changed ? "dropped privileges" : "already running as the requested user",
             {{"user", flags.runas_user},
              {"uid", std::to_string(dropped->uid)},
              {"gid", std::to_string(dropped->gid)},
              {"capabilities", flags.icmp_socket != "dgram" ? "cap_net_raw" : "none"}});
    if (!flags.config_file.empty() && access(flags.config_file.c_str(), R_OK) != 0) {
      log.Warn("the config file is not readable by this user: reloads will fail",
               {{"file", flags.config_file}, {"user", flags.runas_user}});
    }
  }

  auto kind = ChooseSocketKind(flags.icmp_socket, log);
  if (!kind) {
    std::cerr << kind.error() << "\n";
    return 2;
  }
  pe::probe::EngineOptions eo;
  eo.socket_kind = *kind;
  eo.default_workers = std::max(1u, std::thread::hardware_concurrency());
  eo.shard = *pe::probe::ParseShard(flags.shard);
  pe::probe::Engine engine(eo, cfg->rtt_buckets, log);
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
                       {"socket", pe::icmp::SocketKindName(*kind)}});

  pe::metrics::SelfMetrics self(kVersion, kRevision, [&engine] {
    pe::metrics::EngineCounts c;
    c.targets = engine.target_count();
    c.workers = engine.worker_count();
    c.rounds_late = engine.rounds_late();
    c.rounds_completed = engine.rounds_completed();
    c.unmatched_replies = engine.unmatched_replies();
    return c;
  });
  self.RecordReload(true, WallSeconds());

  std::mutex reload_mu;
  std::string config_source = cfg->source_name;
  auto reload = [&]() -> std::string {
    std::lock_guard<std::mutex> lock(reload_mu);
    pe::config::ParseResult next = LoadConfig(flags);
    std::string error;
    if (!next) {
      error = next.error().ToString();
    } else if (auto ok = engine.Apply(*next); !ok) {
      error = ok.error();
    }
    // A reload frees the previous targets' plans, workers and store list (tens of MB at
    // 100 000 targets) in small chunks that glibc keeps: give them back to the system.
    malloc_trim(0);
    self.RecordReload(error.empty(), WallSeconds());
    if (error.empty()) {
      log.Info("configuration reloaded", {{"targets", std::to_string(engine.target_count())}});
    } else {
      log.Error("reload refused, keeping the running configuration", {{"error", error}});
    }
    return error;
  };

  // The status page's graphs; the sampler stops before the history and the engine go.
  pe::status::History history(*pe::ParseDuration(flags.status_sample_interval));
  pe::status::Sampler sampler(engine.store(), history,
                              *pe::ParseDuration(flags.status_sample_interval));

  // /probe: its own counters (in /metrics) and a quieter logger for its
  // one-shot prober threads, so each probe does not log "target up".
  auto probe_counters = std::make_shared<pe::ondemand::ProbeCounters>();
  pe::LogLevel level = *pe::ParseLogLevel(flags.log_level);
  pe::Logger round_log(std::cerr,
                       level == pe::LogLevel::kDebug ? level : std::max(level, pe::LogLevel::kWarn),
                       *pe::ParseLogFormat(flags.log_format));
  pe::ondemand::ProbeEndpointOptions po;
  po.allow = *pe::ondemand::AllowList::Parse(flags.probe_allow);
  po.max_concurrent = flags.probe_max_concurrent;
  po.counters = probe_counters;
  po.socket_kind = *kind;
  po.round_logger = &round_log;
  log.Info("probe endpoint", {{"allow", po.allow.empty() ? "(nothing)" : po.allow.ToString()},
                              {"max_concurrent", std::to_string(po.max_concurrent)}});

  pe::status::PageInfo page{kVersion, flags.telemetry_path, config_source, po.allow.ToString()};
  std::vector<pe::http::Route> routes;
  routes.push_back({flags.telemetry_path, [&](const pe::http::Request& req) {
                      pe::http::Response r;
                      if (req.method != "GET" && req.method != "HEAD") {
                        r.status = 405;
                        r.headers.push_back({"Allow", "GET, HEAD"});
                        r.body = "method not allowed\n";
                        return r;
                      }
                      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                      r.compressible = true;
                      // Streamed: 10 000 targets make ~40 MB of text.
                      r.stream = [&](const pe::http::BodyWriter& write) {
                        pe::metrics::WriteTargetFamilies(engine.store(), write);
                        std::string tail;
                        self.Render(&tail);
                        probe_counters->Render(&tail);
                        engine.RenderStatus(&tail);
                        pe::metrics::WriteProcessFamilies(&tail);
                        write(tail);
                      };
                      return r;
                    }});
  routes.push_back({"/", [&](const pe::http::Request& req) {
                      if (auto bad = RejectUnlessGet(req)) return *bad;
                      pe::http::Response r;
                      if (req.path != "/") {
                        r.status = 404;
                        r.body = "not found\n";
                        return r;
                      }
                      r.content_type = "text/html; charset=utf-8";
                      r.compressible = true;
                      r.body = pe::status::RenderStatusPage(engine.store(), page, &history,
                                                            WallSeconds());
                      return r;
                    }});
  routes.push_back({"/probe", pe::ondemand::MakeProbeHandler(std::move(po), log)});
  routes.push_back({"/-/healthy", [](const pe::http::Request& req) {
                      if (auto bad = RejectUnlessGet(req)) return *bad;
                      pe::http::Response r;
                      r.body = "Healthy\n";
                      return r;
                    }});
  routes.push_back({"/-/ready", [&](const pe::http::Request& req) {
                      if (auto bad = RejectUnlessGet(req)) return *bad;
                      pe::http::Response r;
                      if (engine.rounds_completed() == 0) {
                        r.status = 503;
                        r.body = "Not ready: no round completed yet\n";
                      } else {
                        r.body = "Ready\n";
                      }
                      return r;
                    }});
  routes.push_back({"/-/reload", [&](const pe::http::Request& req) {
                      pe::http::Response r;
                      if (req.method != "POST" && req.method != "PUT") {
                        r.status = 405;
                        r.headers.push_back({"Allow", "POST, PUT"});
                        r.body = "use POST to reload\n";
                        return r;
                      }
                      // CivetWeb's request threads have ~100 KiB stacks, too
                      // small for toml++ unwinding a parse error: reload on a
                      // thread with a normal stack and wait for it.
                      std::string error;
                      std::thread([&] { error = reload(); }).join();
                      if (!error.empty()) {
                        r.status = 500;
                        r.body = "reload failed: " + error + "\n";
                      } else {
                        r.body = "reloaded\n";
                      }
                      return r;
                    }});

  pe::http::ServerOptions so;
  so.listen_address = flags.listen_address;
  so.threads = flags.http_threads;
  so.request_timeout = *pe::ParseDuration(flags.http_request_timeout);
  so.web_config_file = flags.web_config_file;
  auto server = pe::http::Server::Start(so, std::move(routes), log);
  if (!server) {
    log.Error("cannot start HTTP server",
              {{"address", flags.listen_address}, {"error", server.error()}});
    std::cerr << "cannot listen on " << flags.listen_address << ": " << server.error() << "\n";
    return 1;
  }
  std::string host = flags.listen_address.substr(0, flags.listen_address.rfind(':'));
  log.Info("listening", {{"address", host + ":" + std::to_string((*server)->port())},
                         {"tls", (*server)->tls() ? "true" : "false"}});

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    log.Info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    break;
  }
  server->reset();
  engine.Stop();
  log.Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Each HTTP thread would otherwise get its own malloc arena and keep a
  // scrape's worth of freed memory in it: RSS grew by ~5 MB per thread.
  mallopt(M_ARENA_MAX, 2);
  // A client hanging up mid-scrape must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  Flags flags;
  CLI::App app{"ping_exporter: pings hosts and exports up/down, loss and RTT to Prometheus"};
  app.set_version_flag("--version",
                       std::string("ping_exporter ") + kVersion + " (revision " + kRevision + ")");
  app.add_option("--config.file", flags.config_file,
                 "TOML configuration file (default: embedded config pinging 127.0.0.1 and ::1)");
  app.add_flag("--config.check", flags.config_check,
               "Validate the configuration and exit (0 = valid)");
  app.add_option("--web.listen-address", flags.listen_address,
                 "Address to listen on: host:port, [v6]:port or :port (port 0 picks one)")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", flags.telemetry_path, "Path for the metrics")
      ->capture_default_str()
      ->check([](const std::string& p) {
        return !p.empty() && p[0] == '/' && p != "/" ? std::string()
                                                     : "must start with / and not be /";
      });
  app.add_option("--web.config.file", flags.web_config_file,
                 "exporter-toolkit web config (TLS, basic auth)");
  app.add_option("--web.max-requests", flags.http_threads, "HTTP worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  // Also how long an idle client (connected, no request yet) holds one of those threads.
  app.add_option("--web.request-timeout", flags.http_request_timeout,
                 "Longest wait for a client's request head, or for progress reading its body or "
                 "writing the answer")
      ->capture_default_str()
      ->check([](const std::string& s) {
        auto d = pe::ParseDuration(s);
        return d && *d >= std::chrono::milliseconds(100) && *d <= std::chrono::minutes(10)
                   ? std::string()
                   : "must be a duration between 100ms and 10m";
      });
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
      ->check([](const std::string& s) {
        return pe::probe::ParseShard(s) ? std::string() : "must be I/N with 0 <= I < N";
      });

  app.add_option(
         "--probe.allow", flags.probe_allow,
         "/probe may ping only these: comma-separated CIDRs and host names (\"*.example.org\" "
         "for a domain); a name must be listed AND resolve into a listed network; empty: none")
      ->capture_default_str()
      ->check([](const std::string& s) {
        auto list = pe::ondemand::AllowList::Parse(s);
        return list ? std::string() : list.error();
      });
  app.add_option("--probe.max-concurrent", flags.probe_max_concurrent,
                 "/probe rounds running at once; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  // Hidden: tests shorten the status page's sample period.
  app.add_option("--status.sample-interval", flags.status_sample_interval,
                 "Period of one point of the status page's graphs")
      ->group("")
      ->check([](const std::string& s) {
        auto d = pe::ParseDuration(s);
        return d && *d >= std::chrono::milliseconds(100) ? std::string()
                                                         : "must be a duration >= 100ms";
      });
  app.add_option("--runas.user", flags.runas_user,
                 "When started as root: switch to this user, keeping only CAP_NET_RAW (none with "
                 "--icmp.socket=dgram)");

  CLI::App* probe = app.add_subcommand(
      "probe", "Ping hosts once and print Alive / Partial Response / No response");
  probe->add_option("hosts", flags.probe_hosts, "Hosts to ping")->required();
  probe->add_option("--count", flags.probe_count, "Echo requests per host")->capture_default_str();
  probe->add_option("--timeout", flags.probe_timeout, "Wait for the last reply")
      ->capture_default_str();
  probe->add_option("--spacing", flags.probe_spacing, "Between requests")->capture_default_str();
  probe->add_option("--family", flags.probe_family, "ip4, ip6 or any")
      ->capture_default_str()
      ->check(CLI::IsMember({"ip4", "ip6", "any"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  pe::Logger log(std::cerr, *pe::ParseLogLevel(flags.log_level),
                 *pe::ParseLogFormat(flags.log_format));
  if (probe->parsed()) return RunProbe(flags, log);
  return RunExporter(flags, log);
}
