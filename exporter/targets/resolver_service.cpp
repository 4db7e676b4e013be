#include "targets/resolver_service.h"

#include <utility>

namespace ping_exporter::targets {
namespace {

std::string Join(const Addresses& addresses) {
  std::string out;
  for (const IpAddress& ip : addresses) {
    if (!out.empty()) out += ',';
    out += ip.ToString();
  }
  return out;
}

void LogChange(const NameChange& c, Logger& log) {
  const NameState& s = c.state;
  if (c.started_failing) {
    log.Warn("cannot resolve target, retrying",
             {{"target", s.host},
              {"family", std::string(config::FamilyName(s.family))},
              {"error", s.error},
              {"keeping", s.addresses.empty() ? "(none)" : Join(s.addresses)}});
  } else if (c.recovered) {
    log.Info("target resolves again", {{"target", s.host}, {"addresses", Join(s.addresses)}});
  } else if (c.addresses_changed() && !c.before.empty()) {
    log.Info("target addresses changed",
             {{"target", s.host}, {"from", Join(c.before)}, {"to", Join(s.addresses)}});
  }
}

}  // namespace

ResolverService::ResolverService(std::unique_ptr<NameLookup> lookup,
                                 std::function<void()> on_change, Logger& log, Options options)
    : lookup_(std::move(lookup)),
      on_change_(std::move(on_change)),
      log_(log),
      schedule_(options.max_in_flight) {
  thread_ = std::thread([this] { Run(); });
}

ResolverService::~ResolverService() { Stop(); }

void ResolverService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  lookup_->Wake();
  if (thread_.joinable()) thread_.join();
}

void ResolverService::Track(const std::vector<NameRequest>& names) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    schedule_.Track(names, std::chrono::steady_clock::now());
  }
  lookup_->Wake();
}

Addresses ResolverService::AddressesOf(std::string_view host, config::Family family) const {
  std::lock_guard<std::mutex> lock(mu_);
  return schedule_.AddressesOf(host, family);
}

std::vector<NameState> ResolverService::States() const {
  std::lock_guard<std::mutex> lock(mu_);
  return schedule_.States();
}

void ResolverService::Run() {
  std::vector<NameLookup::Finished> finished;
  std::vector<NameChange> changes;
  for (;;) {
    std::vector<LookupStart> starts;
    SteadyTime until;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      SteadyTime now = std::chrono::steady_clock::now();
      for (NameLookup::Finished& f : finished) {
        if (auto c = schedule_.Finish(f.id, std::move(f.result), now))
          changes.push_back(std::move(*c));
      }
      starts = schedule_.TakeDue(now);
      until = schedule_.NextDue();
    }
    finished.clear();
    bool moved = false;
    for (const NameChange& c : changes) {
      LogChange(c, log_);
      moved = moved || c.addresses_changed();
    }
    changes.clear();
    if (moved) on_change_();
    for (const LookupStart& s : starts) {
      if (auto literal = ResolveLiteral(s.host, s.family)) {
        finished.push_back({s.id, std::move(*literal)});
      } else {
        lookup_->Start(s.id, s.host, s.family, s.timeout);
      }
    }
    // Literals are answered already: record them before waiting.
    if (finished.empty()) finished = lookup_->Wait(until);
  }
}

}  // namespace ping_exporter::targets
