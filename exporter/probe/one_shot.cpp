#include "probe/one_shot.h"

#include <thread>

#include "metrics/round_state.h"
#include "metrics/store.h"
#include "probe/pool.h"
#include "targets/resolver.h"

namespace ping_exporter::probe {

int ProbeOnce(const std::vector<std::string>& hosts, const config::ProbeOptions& options,
              config::Family family, icmp::SocketKind kind, std::ostream& out, std::ostream& err,
              Logger& logger) {
  std::vector<TargetPlan> plans;
  std::vector<metrics::TargetEntry> entries;
  std::vector<double> bounds;  // no histogram needed here
  for (const std::string& host : hosts) {
    metrics::TargetInfo info;
    info.name = host;
    TargetPlan plan;
    plan.options = options;
    auto addr = targets::Resolve(host, family);
    if (addr) {
      plan.address = *addr;
      info.address = addr->ToString();
    } else {
      err << host << ": " << addr.error() << "\n";
    }
    metrics::TargetEntry entry = metrics::TargetEntry::Make(std::move(info), bounds.size());
    plan.entry = entry;
    plans.push_back(std::move(plan));
    entries.push_back(std::move(entry));
  }
  PoolOptions po;
  // Enough threads to keep up, never one per host.
  po.workers = std::min<uint32_t>(std::max(1u, std::thread::hardware_concurrency()),
                                  static_cast<uint32_t>(hosts.size()));
  po.socket_kind = kind;
  po.epoch = Clock::now();
  po.one_shot = true;
  auto pool = WorkerPool::Start(po, std::move(plans), bounds, logger);
  if (!pool) {
    err << "cannot start probing: " << pool.error() << "\n";
    return 2;
  }
  // Every round ends by its deadline; poll the shared counter until all are in.
  const auto limit = Clock::now() + options.RoundLength() + std::chrono::seconds(5);
  while ((*pool)->counters().rounds_completed.load() < hosts.size() && Clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*pool)->Stop();
  bool all_alive = true;
  metrics::TargetSnapshot snap;
  for (const auto& entry : entries) {
    entry.stats->Read(&snap);
    using metrics::RoundState;
    RoundState st = snap.has_round ? metrics::StateOf(snap.round_sent, snap.round_received)
                                   : RoundState::kNoResponse;
    const char* word = st == RoundState::kAlive     ? "Alive"
                       : st == RoundState::kPartial ? "Partial Response"
                                                    : "No response";
    out << "Status from " << entry.info->name << " is " << word << "\n";
    all_alive = all_alive && st == RoundState::kAlive;
  }
  return all_alive ? 0 : 1;
}

}  // namespace ping_exporter::probe
