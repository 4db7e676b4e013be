#pragma once
// What the command line asks of the exporter, as plain values, and the checks
// main() runs on them while parsing.

#include <cstdint>
#include <string>
#include <vector>

namespace ping_exporter::app {

/// The exporter's flags. Text values are passed through the Check* functions
/// below before Run() sees them (main does it through CLI11); Run() relies on it.
struct Options {
  std::string config_file;  ///< "" = the embedded default config
  bool config_check = false;
  std::string listen_address = ":9823";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  std::string icmp_socket = "auto";  ///< auto, raw or dgram
  uint32_t http_connections = 512;   ///< http::ServerOptions::connections
  uint32_t http_max_requests = 8;    ///< http::ServerOptions::max_requests
  bool enable_lifecycle = false;     ///< POST /-/reload reloads; otherwise it answers 403
  std::string http_request_timeout = "5s";
  std::string shard = "0/1";
  std::string probe_allow = "127.0.0.0/8,::1/128,localhost";
  uint32_t probe_max_concurrent = 4;
  std::string status_sample_interval = "30s";
  std::string runas_user;  ///< "" = keep the user we started as
};

/// The `probe HOST…` subcommand's flags; RunProbe() checks them itself.
struct ProbeCommandOptions {
  std::vector<std::string> hosts;
  std::string timeout = "1s";
  std::string spacing = "100ms";
  uint32_t count = 2;
  std::string family = "any";        ///< ip4, ip6 or any
  std::string icmp_socket = "auto";  ///< auto, raw or dgram
};

// Flag checks in CLI11's form: "" when the value is fine, else what is wrong.
std::string CheckTelemetryPath(const std::string& path);
std::string CheckRequestTimeout(const std::string& duration);
std::string CheckSampleInterval(const std::string& duration);
std::string CheckShard(const std::string& shard);
std::string CheckProbeAllow(const std::string& allow);

}  // namespace ping_exporter::app
