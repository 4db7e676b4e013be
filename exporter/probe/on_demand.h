#pragma once
// One round on demand: every given target once, at the same time, on a pool of
// its own; used by the `probe` command and by GET /probe.

#include <string>
#include <vector>

#include "common/duration.h"
#include "common/expected.h"
#include "common/log.h"
#include "icmp/socket.h"
#include "metrics/store.h"
#include "probe/target_plan.h"

namespace ping_exporter::probe {

struct OnDemandOptions {
  uint32_t workers = 1;  ///< prober threads (at least one), never one per target
  icmp::SocketKind socket_kind = icmp::SocketKind::kRaw;
  /// How long past the longest round to wait for the workers before giving up
  /// on the rounds that are not over (a safety net: rounds end by their deadline).
  Duration grace = std::chrono::seconds(1);
};

/// Runs one round to every plan at once, with its own sockets, and returns
/// each target's numbers after it, in the order of `plans` (has_round is false
/// for a round that was not over in time). Blocks until the workers signal
/// that every round is over: about the longest plan's RoundLength(), at most
/// that plus options.grace. The plans' entries must have no histogram buckets;
/// phases are ignored. Returns a message when the sockets cannot be opened.
/// Thread-safe: every call has its own pool.
Expected<std::vector<metrics::TargetSnapshot>, std::string> RunOneRound(
    const std::vector<TargetPlan>& plans, const OnDemandOptions& options, Logger& logger);

}  // namespace ping_exporter::probe
