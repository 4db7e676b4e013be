#include "probe/target_table.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace ping_exporter::probe {
namespace {

uint64_t Tag(uint32_t slot, uint16_t seq) { return (uint64_t{slot} << 16) | seq; }
uint32_t TagSlot(uint64_t tag) { return static_cast<uint32_t>(tag >> 16); }
uint16_t TagSeq(uint64_t tag) { return static_cast<uint16_t>(tag); }

int64_t Nanos(TimePoint t) { return t.time_since_epoch().count(); }

metrics::SendError FromIcmpError(icmp::ErrorReason r) {
  switch (r) {
    case icmp::ErrorReason::kNetUnreachable:
      return metrics::SendError::kNetworkUnreachable;
    case icmp::ErrorReason::kHostUnreachable:
      return metrics::SendError::kHostUnreachable;
    case icmp::ErrorReason::kProhibited:
      return metrics::SendError::kProhibited;
    case icmp::ErrorReason::kTtlExceeded:
      return metrics::SendError::kTtlExceeded;
    default:
      return metrics::SendError::kOther;
  }
}

// Asks for the cache lines of [p, p + bytes) ahead of use. A target is visited
// once an interval, so its state has always left the cache when its turn
// comes, and a wake-up handles dozens of them back to back.
void Prefetch(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
}

// A total order on addresses for the sorted address index: family, then bytes.
bool AddressLess(const IpAddress& a, const IpAddress& b) {
  if (a.family() != b.family()) return a.family() < b.family();
  if (a.is_v4()) return std::memcmp(&a.v4(), &b.v4(), sizeof(in_addr)) < 0;
  return std::memcmp(&a.v6(), &b.v6(), sizeof(in6_addr)) < 0;
}

}  // namespace

TargetTable::TargetTable(const TableOptions& options, std::vector<TargetPlan> plans,
                         PoolCounters& counters, Logger& logger)
    : options_(options),
      counters_(counters),
      log_(logger),
      wheel_(options.epoch),
      deadlines_(options.epoch) {
  scratch_.rtts.reserve(Round::kMaxCount);
  targets_.reserve(plans.size());
  for (TargetPlan& plan : plans) {
    max_payload_ = std::max<size_t>(max_payload_, plan.options->payload_size);
    uint32_t count = plan.options->count;
    targets_.emplace_back(std::move(plan), count);
  }
  std::vector<TargetPlan>().swap(plans);  // moved-from husks: free them now
  // Four bytes a target instead of a hash node: only errors and strays look here.
  by_address_.reserve(targets_.size());
  for (uint32_t slot = 0; slot < targets_.size(); ++slot) {
    if (targets_[slot].plan.address) by_address_.push_back(slot);
  }
  std::stable_sort(by_address_.begin(), by_address_.end(), [this](uint32_t a, uint32_t b) {
    return AddressLess(*targets_[a].plan.address, *targets_[b].plan.address);
  });
  due_.reserve(targets_.size());
  open_.resize((targets_.size() + 63) / 64);
  // Random first sequence numbers from one seed, spread by splitmix64.
  uint64_t state = options.seed;
  for (Target& t : targets_) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    t.next_seq = static_cast<uint16_t>(z ^ (z >> 31));
  }
}

uint32_t TargetTable::AddEndpoint(const Endpoint& endpoint) {
  endpoints_.push_back(endpoint);
  return static_cast<uint32_t>(endpoints_.size() - 1);
}

void TargetTable::Bind(uint32_t slot, uint32_t endpoint) { targets_[slot].socket = endpoint; }

// Phases are aligned to a grid of whole ticks (1-10 ms, coarser for fewer
// targets): the same offset every round, so sends keep their exact interval
// while the worker wakes once a grid step rather than once a target.
void TargetTable::Start(TimePoint now) {
  double rounds_per_second = 0;
  for (const Target& t : targets_) {
    rounds_per_second += 1.0 / std::chrono::duration<double>(t.plan.options->interval).count();
  }
  grid_ = PhaseGrid(rounds_per_second);
  // A one-shot round's latency is the point; a periodic worker with a few
  // rounds a grid step wakes at every step anyway.
  constexpr double kBusyRoundsPerStep = 4;
  coalesce_ =
      !options_.one_shot &&
      rounds_per_second * std::chrono::duration<double>(grid_).count() >= kBusyRoundsPerStep;
  for (uint32_t slot = 0; slot < targets_.size(); ++slot) {
    Target& t = targets_[slot];
    Duration interval = t.plan.options->interval;
    Duration phase = AlignPhase(t.plan.phase, grid_, interval);
    if (phase == t.plan.phase) phase = AlignPhase(t.plan.phase, wheel_.tick(), interval);
    t.next_round = options_.one_shot ? now : FirstSlot(options_.epoch, phase, interval, now);
    wheel_.Push(t.next_round, slot);
  }
}

std::optional<TimePoint> TargetTable::NextDue() const {
  if (finished()) return std::nullopt;  // only entries of rounds over early are left
  std::optional<TimePoint> a = wheel_.NextDue();
  std::optional<TimePoint> b = deadlines_.NextDue();
  if (!a || !b) return a ? a : b;
  return std::min(*a, *b);
}

size_t TargetTable::RunDue(const Now& now, Outbox& out) {
  // Rounds at their deadline end first, so their targets may start the next
  // one in this same pass.
  due_.clear();
  deadlines_.PopDue(now.monotonic, &due_);
  for (uint32_t slot : due_) HandleDeadline(slot, now);
  due_.clear();
  wheel_.PopDue(now.monotonic, &due_);
  // Two stages ahead: first a target's own state, then (its pointers now in
  // cache) its round's times and the stats its round will be published to.
  constexpr size_t kAhead = 8;
  const size_t n = due_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) Prefetch(&targets_[due_[i + kAhead]], sizeof(Target));
    if (i + kAhead / 2 < n) {
      const Target& t = targets_[due_[i + kAhead / 2]];
      t.round.Prefetch();
      Prefetch(t.plan.entry.stats.get(), sizeof(metrics::TargetStats));
    }
    Handle(due_[i], now, out);
  }
  return n;
}

// Called when the target's wheel entry is due (never early): its next send or
// its next round. Every target keeps exactly one entry in wheel_; deadlines
// are deadlines_' (HandleDeadline).
void TargetTable::Handle(uint32_t slot, const Now& now, Outbox& out) {
  Target& t = targets_[slot];
  if (t.done) return;
  if (t.round.active()) {
    SendDue(t, slot, now, out);
    if (t.round.all_sent() && now.monotonic >= t.deadline) Finish(t, now);
  }
  if (!t.round.active() && !t.done && now.monotonic >= t.next_round) {
    BeginRound(t, slot, now, out);
  }
  if (t.done) return;
  // A one-shot round with every request out has nothing left but its deadline.
  if (options_.one_shot && t.round.active() && t.round.all_sent()) return;
  TimePoint next = t.next_round;
  if (t.round.active() && !t.round.all_sent()) {
    next = t.next_send;
  } else if (t.round.active() && now.monotonic >= t.next_round) {
    next = t.deadline;  // the next round is due but this one is not over: rare, at its end
  }
  wheel_.Push(next, slot);  // always later than now, so never handed out twice a pass
}

void TargetTable::HandleDeadline(uint32_t slot, const Now& now) {
  if (!((open_[slot / 64] >> (slot % 64)) & 1)) return;  // over before its deadline
  Target& t = targets_[slot];
  if (!t.round.all_sent()) return;  // a newer round still sending: its own entry comes
  if (now.monotonic >= t.deadline) {
    Finish(t, now);
  } else {
    PushDeadline(t, slot);  // the kernel's send stamp moved it later
  }
}

void TargetTable::PushDeadline(const Target& t, uint32_t slot) {
  deadlines_.Push(coalesce_ ? GridStepAtOrAfter(t.deadline) : t.deadline, slot);
}

TimePoint TargetTable::GridStepAtOrAfter(TimePoint t) const {
  int64_t steps = (t - options_.epoch + grid_ - Duration(1)) / grid_;
  return options_.epoch + grid_ * steps;
}

void TargetTable::BeginRound(Target& t, uint32_t slot, const Now& now, Outbox& out) {
  if (now.monotonic - t.next_round > options_.late_tolerance) {
    counters_.rounds_late.fetch_add(1, std::memory_order_relaxed);
  }
  NextSlot next = Advance(t.next_round, t.plan.options->interval, now.monotonic);
  if (next.skipped > 0) counters_.rounds_late.fetch_add(next.skipped, std::memory_order_relaxed);
  t.next_round = next.due;
  t.round.Begin(t.next_seq);
  open_[slot / 64] |= uint64_t{1} << (slot % 64);
  if (!t.plan.address) {
    // Unresolved: the round is lost before it starts; say so in the metrics.
    t.plan.entry.stats->AddSendError(metrics::SendError::kResolve);
    Finish(t, now);
    return;
  }
  t.next_send = now.monotonic;
  SendDue(t, slot, now, out);
}

// Sends everything of the round that is due by `now`: with spacing 0 (or
// after a late wake-up) several requests leave in the same pass.
void TargetTable::SendDue(Target& t, uint32_t slot, const Now& now, Outbox& out) {
  while (!t.round.all_sent() && now.monotonic >= t.next_send) Send(t, slot, now, out);
}

void TargetTable::Send(Target& t, uint32_t slot, const Now& now, Outbox& out) {
  icmp::SendBatch& batch = out.batches[t.socket];
  if (batch.full()) out.flush();
  const Endpoint& e = endpoints_[t.socket];
  uint16_t seq = t.round.next_sequence();
  int64_t now_ns = Nanos(now.monotonic);
  icmp::Cookie cookie{slot, seq, options_.worker, now_ns, options_.token};
  size_t n = icmp::EncodeEchoRequest(e.family, e.echo_id, seq, cookie, t.plan.options->payload_size,
                                     batch.Next());
  t.round.OnSent(now_ns, n > 0);
  t.next_seq = static_cast<uint16_t>(seq + 1);
  t.next_send += t.plan.options->spacing;
  if (n > 0) batch.Commit(n, *t.plan.address, Tag(slot, seq));
  if (t.round.all_sent()) {
    t.deadline = now.monotonic + t.plan.options->timeout;
    PushDeadline(t, slot);
  }
}

// Without kernel stamps, the k-th of n requests of one sendmmsg() is taken to
// have left k/n of the way through the call: on loopback each send includes
// building its reply, so a batch of 64 takes a few hundred microseconds, and
// one time for all would add that to the RTTs of the last ones.
void TargetTable::OnSent(std::span<const uint64_t> tags, int64_t before_ns, int64_t after_ns) {
  const int64_t span = std::max<int64_t>(after_ns - before_ns, 0);
  const int64_t n = static_cast<int64_t>(tags.size());
  for (int64_t k = 0; k < n; ++k) {
    OnSentAt(tags[static_cast<size_t>(k)], before_ns + span * k / n);
  }
}

void TargetTable::OnSentAt(uint64_t tag, int64_t send_ns) {
  if (TagSlot(tag) >= targets_.size()) return;
  Target& t = targets_[TagSlot(tag)];
  uint16_t seq = TagSeq(tag);
  if (!t.round.SetSendTime(seq, send_ns)) return;  // a round that is over
  // The timeout counts from when the round's last request really left.
  if (t.round.all_sent() && static_cast<uint16_t>(seq + 1) == t.round.next_sequence()) {
    t.deadline = TimePoint(Duration(send_ns)) + t.plan.options->timeout;
  }
}

void TargetTable::OnSendFailed(uint64_t tag, int error) {
  Target& t = targets_[TagSlot(tag)];
  t.round.MarkFailed(TagSeq(tag));
  t.plan.entry.stats->AddSendError(metrics::SendErrorFromErrno(error));
}

void TargetTable::Finish(Target& t, const Now& now) {
  const auto slot = static_cast<uint32_t>(&t - targets_.data());
  open_[slot / 64] &= ~(uint64_t{1} << (slot % 64));
  t.round.Finish(&scratch_);
  metrics::PublishedRound p;
  p.sent = scratch_.sent;
  p.received = scratch_.received;
  p.rtt_min = scratch_.rtt_min;
  p.rtt_avg = scratch_.rtt_avg;
  p.rtt_max = scratch_.rtt_max;
  p.rtt_stddev = scratch_.rtt_stddev;
  p.reply_ttl = t.last_ttl;
  if (t.jitter16_ns >= 0) p.jitter = static_cast<double>(t.jitter16_ns) / 16e9;
  p.completed_at = static_cast<double>(now.wall_ns) / 1e9;
  p.rtts = scratch_.rtts;
  t.plan.entry.stats->Publish(p);
  counters_.rounds_completed.fetch_add(1, std::memory_order_relaxed);
  if (options_.one_shot) {
    t.done = true;
    ++done_;
  } else {
    LogChange(t, metrics::StateOf(p.sent, p.received), now.monotonic);
  }
}

// One line when a target goes down or comes back (partial counts as up), at
// most one per target per kLogEvery, so a flapping host cannot flood the log.
// Changes inside that window are folded, not lost: the first round after it
// closes writes the state the target is in then, with the number of changes
// that got no line of their own. The memory lives in the target's stats, so a
// reload neither forgets it nor repeats a line.
void TargetTable::LogChange(Target& t, metrics::RoundState state, TimePoint now) {
  constexpr Duration kLogEvery = std::chrono::seconds(10);
  using metrics::RoundState;
  auto up = [](RoundState s) { return s != RoundState::kNoResponse; };
  metrics::StateLog& log = t.plan.entry.stats->state_log();
  const std::optional<RoundState> before = log.latest;
  log.latest = state;
  // A target that starts up is no news; one that starts down is.
  const bool changed = before ? up(*before) != up(state) : !up(state);
  if (!before && !changed) log.logged = state;
  if (changed) ++log.pending;
  if (log.pending == 0) return;
  if (log.logged_at != TimePoint{} && now - log.logged_at < kLogEvery) return;
  log_.Info(up(state) ? "target up" : "target down",
            {{"target", t.plan.entry.info->name},
             {"address", t.plan.entry.info->address},
             {"from", log.logged ? metrics::StateName(*log.logged) : "unknown"},
             {"to", metrics::StateName(state)},
             {"suppressed_changes", std::to_string(log.pending - (changed ? 1 : 0))}});
  log.logged = state;
  log.logged_at = now;
  log.pending = 0;
}

std::optional<uint32_t> TargetTable::SlotOf(const IpAddress& address) const {
  auto it = std::lower_bound(by_address_.begin(), by_address_.end(), address,
                             [this](uint32_t slot, const IpAddress& a) {
                               return AddressLess(*targets_[slot].plan.address, a);
                             });
  if (it == by_address_.end() || *targets_[*it].plan.address != address) return std::nullopt;
  return *it;
}

void TargetTable::Blame(const icmp::Received& r) {
  std::optional<IpAddress> from = IpAddress::FromSockaddr(r.source, r.source_len);
  if (std::optional<uint32_t> slot = from ? SlotOf(*from) : std::nullopt) {
    targets_[*slot].plan.entry.stats->AddInvalid();
    return;
  }
  counters_.unmatched_replies.fetch_add(1, std::memory_order_relaxed);
}

// An ICMP error about one of our requests is blamed on its target as a send
// error, never counted as a reply. Linux quotes the whole request, so the
// cookie names the target; a router quoting only the RFC 792 minimum (8
// bytes: no cookie) is matched by destination, echo id and a sequence the
// target really sent. A failure already counted when the send itself failed
// (an nft reject both fails sendmsg and answers with an ICMP error) is not
// counted again.
void TargetTable::OnError(uint32_t endpoint, const icmp::Message& m, bool ours) {
  if (!m.quoted_destination) return;
  uint32_t slot = 0;
  if (ours) {
    slot = m.cookie->slot;
  } else if (!m.cookie && m.quotes_echo_request && m.id == endpoints_[endpoint].echo_id) {
    std::optional<uint32_t> found = SlotOf(*m.quoted_destination);
    if (!found) return;
    slot = *found;
    if (targets_[slot].socket != endpoint || !targets_[slot].round.Sent(m.sequence)) return;
  } else {
    return;
  }
  Target& t = targets_[slot];
  if (*m.quoted_destination != *t.plan.address || t.round.SendFailed(m.sequence)) return;
  t.plan.entry.stats->AddSendError(FromIcmpError(m.error));
}

void TargetTable::OnPacket(uint32_t endpoint, const icmp::Received& r, const Now& now) {
  const Endpoint& e = endpoints_[endpoint];
  bool with_ip_header = e.kind == icmp::SocketKind::kRaw && e.family == IpFamily::kV4;
  icmp::ParseResult parsed = icmp::ParseMessage(e.family, with_ip_header, r.data);
  if (!parsed.message) {
    Blame(r);
    return;
  }
  const icmp::Message& m = *parsed.message;
  if (m.kind == icmp::MessageKind::kOther) return;
  bool ours = m.cookie && m.cookie->token == options_.token &&
              m.cookie->worker == options_.worker && m.cookie->slot < targets_.size() &&
              targets_[m.cookie->slot].socket == endpoint && targets_[m.cookie->slot].plan.address;
  if (m.kind == icmp::MessageKind::kError) {
    OnError(endpoint, m, ours);
    return;
  }
  if (m.id != e.echo_id) return;  // another pinger's reply (raw sockets see all)
  if (!ours) {
    Blame(r);
    return;
  }
  Target& t = targets_[m.cookie->slot];
  // A valid cookie from the wrong host (NAT, anycast, a spoof) counts as an
  // invalid reply to the request it claims to answer.
  if (!t.plan.address->Matches(r.source, r.source_len) || m.cookie->sequence != m.sequence ||
      !m.payload_intact) {
    t.plan.entry.stats->AddInvalid();
    return;
  }
  // Round-trip times are taken on the monotonic clock, so a wall-clock step
  // cannot bend them: the kernel's receive stamp (CLOCK_REALTIME) is moved
  // onto it with the offset of the caller's two clock readings. If the wall
  // clock stepped in between, the result lands outside [send, now] and the
  // receive time falls back to now.
  int64_t now_ns = Nanos(now.monotonic);
  int64_t rx = r.kernel_time_ns != 0 ? r.kernel_time_ns - (now.wall_ns - now_ns) : now_ns;
  if (rx > now_ns || now_ns - rx > t.plan.options->interval.count()) rx = now_ns;
  // A cookie from the future, or older than the history reaches back (a
  // replay of a request whose sequence has come round again), is not ours.
  const config::ProbeOptions& o = *t.plan.options;
  const Duration reach =
      o.interval * (Round::kHistory / std::max<uint32_t>(o.count, 1) + 1) + o.timeout;
  if (m.cookie->send_time_ns > rx || rx - m.cookie->send_time_ns > reach.count()) {
    t.plan.entry.stats->AddInvalid();
    return;
  }
  // A reply after the round's deadline is late even if the deadline's tick
  // has not been handled yet: the timeout is exact.
  if (t.round.active() && t.round.all_sent() && rx > Nanos(t.deadline)) Finish(t, now);
  Duration rtt{};
  Verdict verdict = t.round.OnReply(m.sequence, rx, m.cookie->send_time_ns, &rtt);
  if (verdict == Verdict::kCounted || verdict == Verdict::kLate) NoteOrder(t, m.sequence);
  switch (verdict) {
    case Verdict::kCounted:
      NoteRtt(t, rtt);
      if (log_.Enabled(LogLevel::kDebug)) {
        // One line per reply: what bench/accuracy.py compares with the wire.
        log_.Debug("reply", {{"target", t.plan.entry.info->name},
                             {"address", t.plan.entry.info->address},
                             {"seq", std::to_string(m.sequence)},
                             {"rtt_ns", std::to_string(rtt.count())}});
      }
      if (m.ttl) {
        t.last_ttl = *m.ttl;
      } else if (r.ttl) {
        t.last_ttl = *r.ttl;
      }
      if (t.round.complete()) Finish(t, now);
      break;
    case Verdict::kDuplicate:
      t.plan.entry.stats->AddDuplicate();
      break;
    case Verdict::kLate:
      t.plan.entry.stats->AddLate();
      break;
    case Verdict::kUnknown:
      t.plan.entry.stats->AddInvalid();
      break;
  }
}

void TargetTable::NoteOrder(Target& t, uint16_t seq) {
  if (t.replied && static_cast<int16_t>(seq - t.highest_seq) < 0) {
    t.plan.entry.stats->AddOutOfOrder();
    return;
  }
  t.highest_seq = seq;
  t.replied = true;
}

// RFC 3550 section 6.4.1 with the RTT as the transit time: J += (|D| - J)/16,
// D the difference between two consecutive replies' RTTs (the send spacing
// cancels out, as it does for the RFC's transit times).
void TargetTable::NoteRtt(Target& t, Duration rtt) {
  int64_t ns = rtt.count();
  if (t.last_rtt_ns >= 0) {
    int64_t d = ns > t.last_rtt_ns ? ns - t.last_rtt_ns : t.last_rtt_ns - ns;
    t.jitter16_ns = std::max<int64_t>(t.jitter16_ns, 0);
    t.jitter16_ns += d - ((t.jitter16_ns + 8) >> 4);
  }
  t.last_rtt_ns = ns;
}

// Datagram sockets report ICMP errors (and some local ones) through their
// error queue, with our request attached: blame its target, never count it.
// Raw sockets read the ICMP errors as messages (OnError), so only their local
// errors count here. A failure already counted at send is not counted again.
void TargetTable::OnQueuedError(uint32_t endpoint, const icmp::QueuedError& e) {
  const Endpoint& ep = endpoints_[endpoint];
  if (ep.kind == icmp::SocketKind::kRaw && e.from_icmp) return;
  uint32_t slot = 0;
  uint16_t sequence = 0;
  if (std::optional<icmp::Request> req = icmp::DecodeRequest(ep.family, e.request)) {
    if (req->cookie.token != options_.token || req->cookie.worker != options_.worker) return;
    slot = req->cookie.slot;
    sequence = req->sequence;
  } else if (std::optional<uint16_t> seq = icmp::EchoRequestSequence(ep.family, e.request);
             seq && e.destination) {
    // An 8-byte quote: no cookie, so match destination and a sequence it was sent.
    std::optional<uint32_t> found = SlotOf(*e.destination);
    if (!found || !targets_[*found].round.Sent(*seq)) return;
    slot = *found;
    sequence = *seq;
  } else {
    return;
  }
  if (slot >= targets_.size() || targets_[slot].socket != endpoint) return;
  Target& t = targets_[slot];
  if (t.round.SendFailed(sequence)) return;  // counted when the send failed
  metrics::SendError reason = e.from_icmp
                                  ? FromIcmpError(icmp::ClassifyError(ep.family, e.type, e.code))
                                  : metrics::SendErrorFromErrno(e.error);
  t.plan.entry.stats->AddSendError(reason);
}

}  // namespace ping_exporter::probe
