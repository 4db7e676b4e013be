#include "ondemand/probe_command.h"

#include <algorithm>
#include <thread>

#include "metrics/round_state.h"
#include "metrics/store.h"
#include "probe/on_demand.h"
#include "targets/resolver.h"

namespace ping_exporter::ondemand {

int ProbeOnce(const std::vector<std::string>& hosts, const config::ProbeOptions& options,
              config::Family family, icmp::SocketKind kind, std::ostream& out, std::ostream& err,
              Logger& logger) {
  std::vector<probe::TargetPlan> plans;
  for (const std::string& host : hosts) {
    metrics::TargetInfo info;
    info.name = host;
    probe::TargetPlan plan;
    plan.options = options;
    auto addr = targets::Resolve(host, family);
    if (addr) {
      plan.address = *addr;
      info.address = addr->ToString();
    } else {
      err << host << ": " << addr.error() << "\n";
    }
    plan.entry = metrics::TargetEntry::Make(std::move(info), nullptr);  // no histogram needed
    plans.push_back(std::move(plan));
  }
  probe::OnDemandOptions o;
  // Enough threads to keep up, never one per host.
  o.workers = std::min<uint32_t>(std::max(1u, std::thread::hardware_concurrency()),
                                 static_cast<uint32_t>(hosts.size()));
  o.socket_kind = kind;
  o.grace = std::chrono::seconds(5);
  auto snapshots = probe::RunOneRound(plans, o, logger);
  if (!snapshots) {
    err << "cannot start probing: " << snapshots.error() << "\n";
    return 2;
  }
  bool all_alive = true;
  for (size_t i = 0; i < plans.size(); ++i) {
    const metrics::TargetSnapshot& snap = (*snapshots)[i];
    using metrics::RoundState;
    RoundState st = snap.has_round ? metrics::StateOf(snap.round_sent, snap.round_received)
                                   : RoundState::kNoResponse;
    const char* word = st == RoundState::kAlive     ? "Alive"
                       : st == RoundState::kPartial ? "Partial Response"
                                                    : "No response";
    out << "Status from " << plans[i].entry.info->name << " is " << word << "\n";
    all_alive = all_alive && st == RoundState::kAlive;
  }
  return all_alive ? 0 : 1;
}

}  // namespace ping_exporter::ondemand
