#pragma once
// The seed's job on the command line: one round to every host at once.

#include <ostream>
#include <string>
#include <vector>

#include "common/log.h"
#include "config/config.h"
#include "icmp/socket.h"

namespace ping_exporter::ondemand {

/// Probes every host once, all at the same time, and prints one line per host
/// in the order given: "Status from HOST is Alive|Partial Response|No response".
/// Names are resolved first (a name that does not resolve is reported on `err`
/// and is not alive). Returns 0 when all are alive, 1 when any is not, 2 on a
/// start-up error (message written to `err`). Blocks for about one round.
int ProbeOnce(const std::vector<std::string>& hosts, const config::ProbeOptions& options,
              config::Family family, icmp::SocketKind kind, std::ostream& out, std::ostream& err,
              Logger& logger);

}  // namespace ping_exporter::ondemand
