#pragma once
// What a worker needs to probe one target; built by whoever plans the targets.

#include <optional>

#include "common/duration.h"
#include "common/ip_address.h"
#include "config/config.h"
#include "metrics/store.h"

namespace ping_exporter::probe {

/// Everything a worker needs to probe one target. A plain value: copies share
/// the identity, the results and the options.
struct TargetPlan {
  metrics::TargetEntry entry;          ///< identity and results (shared with the store)
  std::optional<IpAddress> address;    ///< nullopt: could not be resolved
  config::SharedProbeOptions options;  ///< shared by the target's group (read-only)
  Duration phase{0};                   ///< offset of its rounds inside the interval
};

}  // namespace ping_exporter::probe
