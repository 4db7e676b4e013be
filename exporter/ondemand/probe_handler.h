#pragma once
// GET /probe?target=HOST[&count=N&timeout=DUR&family=ip4|ip6|any]: one
// on-demand round to one host, answered in the Prometheus text format the way
// blackbox_exporter answers (family::kProbeSuccess, kProbeDuration, and the
// ping_* series of that round). Guarded by an allow-list and a concurrency cap.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "common/expected.h"
#include "common/ip_address.h"
#include "common/log.h"
#include "config/config.h"
#include "http/server.h"
#include "icmp/socket.h"
#include "metrics/exposition.h"
#include "metrics/store.h"
#include "ondemand/allow_list.h"

namespace ping_exporter::ondemand {

/// Bounds of the query parameters.
inline constexpr uint32_t kMaxCount = 10;
inline constexpr Duration kMaxTimeout = std::chrono::seconds(5);

/// A validated /probe query.
struct ProbeQuery {
  std::string target;  ///< an IP literal or a host name, as given
  uint32_t count = 2;
  Duration timeout = std::chrono::seconds(1);
  config::Family family = config::Family::kAny;
};

/// Parses the raw query string (percent-decoded here). Defaults fill what is
/// missing; unknown parameters are ignored (Prometheus may add `module`).
/// Errors are messages for a 400 answer.
Expected<ProbeQuery, std::string> ParseProbeQuery(std::string_view raw_query,
                                                  const ProbeQuery& defaults);

/// What one round needs.
struct RoundRequest {
  std::string target;
  IpAddress address;
  config::ProbeOptions options;
};

/// Runs one round and returns the target's numbers after it (has_round false if
/// it did not complete), or an error message (sockets could not be opened).
using RoundRunner =
    std::function<Expected<metrics::TargetSnapshot, std::string>(const RoundRequest&)>;
/// Resolves a host name (blocking is fine: the handler bounds it with a timeout).
using NameResolver =
    std::function<Expected<IpAddress, std::string>(const std::string& name, config::Family family)>;

/// The real round: a one-worker, one-shot WorkerPool with its own sockets.
/// Blocks for about options.RoundLength(). Thread-safe.
Expected<metrics::TargetSnapshot, std::string> RunIcmpRound(const RoundRequest& request,
                                                            icmp::SocketKind kind, Logger& logger);

/// Counters of the endpoint, rendered into /metrics. Thread-safe (atomics).
class ProbeCounters {
 public:
  std::atomic<uint64_t> refused{0};    ///< target not in the allow-list (403)
  std::atomic<uint64_t> busy{0};       ///< over the concurrency cap (503)
  std::atomic<uint64_t> invalid{0};    ///< bad query (400)
  std::atomic<uint64_t> succeeded{0};  ///< rounds with at least one reply
  std::atomic<uint64_t> failed{0};     ///< rounds without a reply, unresolvable names, errors
  std::atomic<uint32_t> in_flight{0};  ///< probes running now (resolution included)

  /// Writes the ping_exporter_probe_* families.
  void Render(metrics::FamilyWriter& out) const;
};

struct ProbeEndpointOptions {
  AllowList allow;
  uint32_t max_concurrent = 4;  ///< probes at once; more get 503
  ProbeQuery defaults;          ///< count and timeout when the query has none
  Duration spacing = std::chrono::milliseconds(100);
  Duration resolve_timeout = std::chrono::seconds(2);
  /// Required: the endpoint counts into it; main renders it in /metrics.
  std::shared_ptr<ProbeCounters> counters;
  /// Empty: RunIcmpRound with `socket_kind` and `round_logger`. Tests inject fakes.
  RoundRunner run_round;
  NameResolver resolve;  ///< empty: targets::Resolve
  icmp::SocketKind socket_kind = icmp::SocketKind::kRaw;
  /// Logger for the prober threads of each round (main passes a quieter one so
  /// every probe does not log "target up"); null: the handler's logger.
  Logger* round_logger = nullptr;
};

/// Builds the /probe handler. The handler is thread-safe and keeps its state
/// (the in-flight count) in the returned closure; `logger` (and
/// options.round_logger) are borrowed and must outlive it. Answers: 200 with
/// the probe's metrics (kProbeSuccess 0 when the round got no reply or the
/// name did not resolve), 400 bad query, 403 target not allowed (never pinged,
/// a name not listed is not even resolved), 503 too many probes at once, 500
/// the round could not start. Route it GET-only: the server answers other methods.
http::Handler MakeProbeHandler(ProbeEndpointOptions options, Logger& logger);

}  // namespace ping_exporter::ondemand
