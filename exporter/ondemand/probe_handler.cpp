#include "ondemand/probe_handler.h"

#include <charconv>
#include <future>
#include <thread>
#include <vector>

#include "common/host_name.h"
#include "common/text.h"
#include "metrics/text_writer.h"
#include "probe/on_demand.h"
#include "targets/resolver.h"

namespace ping_exporter::ondemand {
namespace {

using Clock = std::chrono::steady_clock;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; nullopt on a broken %XX.
std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

http::Response Text(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Shared by the handler and the resolver threads it starts (which may outlive
// one request when a resolution times out).
struct State {
  ProbeEndpointOptions options;
  Logger& log;
  std::atomic<uint32_t> resolver_threads{0};
  State(ProbeEndpointOptions o, Logger& l) : options(std::move(o)), log(l) {}
};

/// Decrements a counter when it goes out of scope.
class CountGuard {
 public:
  explicit CountGuard(std::atomic<uint32_t>& c) : c_(c) {}
  ~CountGuard() { c_.fetch_sub(1, std::memory_order_relaxed); }
  CountGuard(const CountGuard&) = delete;
  CountGuard& operator=(const CountGuard&) = delete;

 private:
  std::atomic<uint32_t>& c_;
};

using ResolveResult = Expected<IpAddress, std::string>;

// getaddrinfo() cannot be interrupted: run it on its own thread and stop
// waiting after the timeout. The thread finishes on its own later; their
// number is capped so a stuck resolver cannot pile threads up.
ResolveResult ResolveWithTimeout(const std::shared_ptr<State>& state, const std::string& name,
                                 config::Family family) {
  uint32_t cap = 2 * state->options.max_concurrent;
  if (state->resolver_threads.fetch_add(1, std::memory_order_relaxed) >= cap) {
    state->resolver_threads.fetch_sub(1, std::memory_order_relaxed);
    return MakeUnexpected(std::string("too many name resolutions pending"));
  }
  auto promise = std::make_shared<std::promise<ResolveResult>>();
  std::future<ResolveResult> result = promise->get_future();
  try {
    std::thread([state, name, family, promise] {
      CountGuard done(state->resolver_threads);
      try {
        promise->set_value(state->options.resolve ? state->options.resolve(name, family)
                                                  : targets::Resolve(name, family));
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    }).detach();
  } catch (const std::system_error& e) {
    state->resolver_threads.fetch_sub(1, std::memory_order_relaxed);
    return MakeUnexpected(std::string("cannot start a resolver thread: ") + e.what());
  }
  if (result.wait_for(state->options.resolve_timeout) != std::future_status::ready) {
    return MakeUnexpected("name resolution timed out after " +
                          FormatDuration(state->options.resolve_timeout));
  }
  try {
    return result.get();
  } catch (const std::exception& e) {
    return MakeUnexpected(std::string("name resolution failed: ") + e.what());
  }
}

// The probe's own families, then `row`'s round through the same writer as
// /metrics (no row: the name did not resolve).
void AppendProbeResult(std::string* out, bool success, double duration_s,
                       const metrics::TargetRow* row) {
  metrics::FamilyWriter own(metrics::Format::kText);
  own.Add(metrics::family::kProbeSuccess, success ? 1 : 0);
  own.Add(metrics::family::kProbeDuration, duration_s);
  *out += own.Finish();
  const bool completed = row != nullptr && row->snap.has_round;
  metrics::WriteTargetRowsText(std::span<const metrics::TargetRow>(row, completed ? 1 : 0),
                               metrics::RowFamilies::kRound, metrics::Format::kText,
                               [out](std::string_view piece) { out->append(piece); });
}

http::Response Handle(const std::shared_ptr<State>& state, const http::Request& req) {
  const ProbeEndpointOptions& o = state->options;
  ProbeCounters& counters = *o.counters;
  Expected<ProbeQuery, std::string> query = ParseProbeQuery(req.query, o.defaults);
  if (!query) {
    counters.invalid.fetch_add(1, std::memory_order_relaxed);
    return Text(400, query.error() + "\n");
  }
  const std::string& target = query->target;
  std::optional<IpAddress> literal = IpAddress::Parse(target);
  // Decide before any packet or DNS query: a name not listed is not even resolved.
  bool allowed = literal ? o.allow.AllowsAddress(*literal) : o.allow.AllowsName(target);
  if (!allowed) {
    counters.refused.fetch_add(1, std::memory_order_relaxed);
    state->log.Debug("probe refused",
                     {{"target", Escaped(target)}, {"remote", req.remote_address}});
    return Text(403, "target " + Quote(target) + " is not allowed (see --probe.allow)\n");
  }
  if (counters.in_flight.fetch_add(1, std::memory_order_relaxed) >= o.max_concurrent) {
    counters.in_flight.fetch_sub(1, std::memory_order_relaxed);
    counters.busy.fetch_add(1, std::memory_order_relaxed);
    http::Response r = Text(503, "too many probes at once (--probe.max-concurrent=" +
                                     std::to_string(o.max_concurrent) + "), retry later\n");
    r.headers.push_back({"Retry-After", "1"});
    return r;
  }
  CountGuard slot(counters.in_flight);
  const Clock::time_point start = Clock::now();
  auto seconds_since_start = [&] { return ToSeconds(Clock::now() - start); };

  http::Response ok;
  ok.content_type = "text/plain; version=0.0.4; charset=utf-8";
  ok.compressible = true;
  IpAddress address;
  if (literal) {
    if (query->family == config::Family::kIp4 && !literal->is_v4()) {
      counters.invalid.fetch_add(1, std::memory_order_relaxed);
      return Text(400, "target is an IPv6 address but family=ip4\n");
    }
    if (query->family == config::Family::kIp6 && literal->is_v4()) {
      counters.invalid.fetch_add(1, std::memory_order_relaxed);
      return Text(400, "target is an IPv4 address but family=ip6\n");
    }
    address = *literal;
  } else {
    ResolveResult resolved = ResolveWithTimeout(state, target, query->family);
    if (!resolved) {
      // Like any other failed probe: Prometheus records family::kProbeSuccess as 0.
      counters.failed.fetch_add(1, std::memory_order_relaxed);
      state->log.Debug("probe: cannot resolve", {{"target", target}, {"error", resolved.error()}});
      ok.body = "# cannot resolve " + Escaped(target) + ": " + Escaped(resolved.error()) + "\n";
      AppendProbeResult(&ok.body, false, seconds_since_start(), nullptr);
      return ok;
    }
    address = *resolved;
    if (!o.allow.AllowsAddress(address)) {
      counters.refused.fetch_add(1, std::memory_order_relaxed);
      state->log.Debug(
          "probe refused",
          {{"target", target}, {"address", address.ToString()}, {"remote", req.remote_address}});
      return Text(403, "target \"" + target + "\" resolves to " + address.ToString() +
                           ", which is not allowed (see --probe.allow)\n");
    }
  }

  RoundRequest round;
  round.target = target;
  round.address = address;
  round.options.count = query->count;
  round.options.timeout = query->timeout;
  round.options.spacing = o.spacing;
  round.options.interval = round.options.RoundLength() + std::chrono::seconds(1);
  Expected<metrics::TargetSnapshot, std::string> snap =
      o.run_round ? o.run_round(round)
                  : RunIcmpRound(round, o.socket_kind,
                                 o.round_logger != nullptr ? *o.round_logger : state->log);
  if (!snap) {
    counters.failed.fetch_add(1, std::memory_order_relaxed);
    state->log.Error("probe could not run", {{"target", target}, {"error", snap.error()}});
    return Text(500, "probe could not run: " + snap.error() + "\n");
  }
  bool success = snap->has_round && snap->round_received > 0;
  (success ? counters.succeeded : counters.failed).fetch_add(1, std::memory_order_relaxed);
  metrics::TargetInfo info;
  info.name = target;
  info.address = address.ToString();
  info.label_text = metrics::RenderLabels(info);
  const metrics::TargetRow row{&info, nullptr, std::move(*snap)};
  AppendProbeResult(&ok.body, success, seconds_since_start(), &row);
  return ok;
}

}  // namespace

Expected<ProbeQuery, std::string> ParseProbeQuery(std::string_view raw,
                                                  const ProbeQuery& defaults) {
  ProbeQuery q = defaults;
  q.target.clear();
  bool seen_target = false, seen_count = false, seen_timeout = false, seen_family = false;
  size_t start = 0;
  while (start < raw.size()) {
    size_t amp = raw.find('&', start);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view pair = raw.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::optional<std::string> key = PercentDecode(pair.substr(0, eq));
    std::optional<std::string> value =
        PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) return MakeUnexpected(std::string("bad percent-encoding in the query"));
    auto once = [&](bool& seen) -> bool {
      bool first = !seen;
      seen = true;
      return first;
    };
    if (*key == "target") {
      if (!once(seen_target)) return MakeUnexpected(std::string("target given more than once"));
      q.target = *value;
    } else if (*key == "count") {
      if (!once(seen_count)) return MakeUnexpected(std::string("count given more than once"));
      uint32_t n = 0;
      const char* end = value->data() + value->size();
      auto res = std::from_chars(value->data(), end, n);
      if (value->empty() || res.ec != std::errc() || res.ptr != end || n < 1 || n > kMaxCount) {
        return MakeUnexpected("count must be a whole number from 1 to " +
                              std::to_string(kMaxCount) + ", not " + Quote(*value));
      }
      q.count = n;
    } else if (*key == "timeout") {
      if (!once(seen_timeout)) return MakeUnexpected(std::string("timeout given more than once"));
      std::optional<Duration> d = ParseDuration(*value);
      if (!d || d->count() <= 0 || *d > kMaxTimeout) {
        return MakeUnexpected("timeout must be a duration above 0 and at most " +
                              FormatDuration(kMaxTimeout) + " (e.g. 500ms), not " + Quote(*value));
      }
      q.timeout = *d;
    } else if (*key == "family") {
      if (!once(seen_family)) return MakeUnexpected(std::string("family given more than once"));
      std::optional<config::Family> family = config::ParseFamily(*value);
      if (!family) return MakeUnexpected("family must be ip4, ip6 or any, not " + Quote(*value));
      q.family = *family;
    }
    // Anything else (module=..., cache busters) is ignored, as blackbox_exporter does.
  }
  if (q.target.empty())
    return MakeUnexpected(std::string("missing target: use /probe?target=HOST"));
  // IsHost() counts every byte, so "127.0.0.2%00%FF" is refused here, never pinged as 127.0.0.2.
  if (!IsHost(q.target)) {
    std::string message = "target must be an IP address or a host name, not " + Quote(q.target);
    if (std::optional<std::string> why = UnprintableReason(q.target)) message += " (" + *why + ")";
    return MakeUnexpected(std::move(message));
  }
  return q;
}

Expected<metrics::TargetSnapshot, std::string> RunIcmpRound(const RoundRequest& request,
                                                            icmp::SocketKind kind, Logger& logger) {
  metrics::TargetInfo info;
  info.name = request.target;
  info.address = request.address.ToString();
  probe::TargetPlan plan;
  plan.entry = metrics::TargetEntry::Make(std::move(info), nullptr);
  plan.address = request.address;
  plan.options = request.options;
  probe::OnDemandOptions o;
  o.socket_kind = kind;
  auto snapshots = probe::RunOneRound({std::move(plan)}, o, logger);
  if (!snapshots) return MakeUnexpected(snapshots.error());
  return std::move(snapshots->front());
}

void ProbeCounters::Render(metrics::FamilyWriter& out) const {
  namespace family = metrics::family;
  auto value = [](const auto& counter) { return static_cast<double>(counter.load()); };
  out.Add(family::kProbeRefused, value(refused));
  out.Add(family::kProbeBusy, value(busy));
  out.Add(family::kProbeInvalid, value(invalid));
  out.Begin(family::kProbes);
  out.Sample({"success"}, value(succeeded));
  out.Sample({"failure"}, value(failed));
  out.Add(family::kProbesInFlight, value(in_flight));
}

http::Handler MakeProbeHandler(ProbeEndpointOptions options, Logger& logger) {
  if (!options.counters) options.counters = std::make_shared<ProbeCounters>();
  if (options.max_concurrent < 1) options.max_concurrent = 1;
  auto state = std::make_shared<State>(std::move(options), logger);
  return [state](const http::Request& req) { return Handle(state, req); };
}

}  // namespace ping_exporter::ondemand
