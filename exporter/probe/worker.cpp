#include "probe/worker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "icmp/packet.h"
#include "metrics/round_state.h"
#include "probe/round.h"

namespace ping_exporter::probe {
namespace {

constexpr size_t kBatch = 64;
// Receive batches read per wake-up and socket, so timers are never starved.
constexpr int kMaxReceiveRounds = 32;
constexpr uint64_t kWakeKey = UINT64_MAX;

uint64_t Tag(uint32_t slot, uint16_t seq) { return (uint64_t{slot} << 16) | seq; }
uint32_t TagSlot(uint64_t tag) { return static_cast<uint32_t>(tag >> 16); }
uint16_t TagSeq(uint64_t tag) { return static_cast<uint16_t>(tag); }

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

struct AddressHash {
  size_t operator()(const IpAddress& a) const {
    if (a.is_v4()) return std::hash<uint32_t>()(a.v4().s_addr);
    uint64_t h[2];
    std::memcpy(h, &a.v6(), sizeof h);
    return std::hash<uint64_t>()(h[0] ^ (h[1] * 0x9E3779B97F4A7C15ull));
  }
};

}  // namespace

struct Worker::Impl {
  struct Target {
    Target(TargetPlan p, uint32_t count) : plan(std::move(p)), round(count) {}
    TargetPlan plan;
    Round round;
    uint32_t socket = 0;
    TimePoint next_round;
    TimePoint next_send;
    TimePoint deadline;
    uint16_t next_seq = 0;
    int32_t last_ttl = -1;
    bool done = false;        // one-shot: its round is over
    int8_t last_status = -1;  // RoundState of the previous round, -1 before the first
    TimePoint last_logged{};  // state-change lines are rate-limited per target
    uint32_t suppressed = 0;  // changes not logged since last_logged
  };
  struct Socket {
    icmp::IcmpSocket sock;
    icmp::SocketOptions options;
    icmp::SendBatch send;
  };

  WorkerOptions opts;
  std::span<const double> bounds;
  PoolCounters& counters;
  Logger& log;
  std::vector<Target> targets;
  std::vector<Socket> sockets;
  std::unique_ptr<icmp::ReceiveBatch> receive;
  std::vector<uint8_t> error_buffer = std::vector<uint8_t>(2048);
  std::unordered_map<IpAddress, uint32_t, AddressHash> by_address;
  // One entry per target (its next event) on a 1 ms grid: every target of a
  // tick is handled in one wake-up and its sends share one sendmmsg().
  TimerWheel wheel;
  std::vector<uint32_t> due;  // reused by RunDue()
  RoundResult scratch;
  Fd epoll, wake;
  std::atomic<bool> stopping{false};

  Impl(const WorkerOptions& o, std::span<const double> b, PoolCounters& c, Logger& l)
      : opts(o), bounds(b), counters(c), log(l), wheel(o.epoch) {
    scratch.rtts.reserve(Round::kMaxCount);
  }

  Expected<bool, std::string> Init(std::vector<TargetPlan> plans);
  void Schedule();
  void Loop();
  void RunDue(TimePoint now);
  void Handle(uint32_t slot, TimePoint now);
  void BeginRound(Target& t, uint32_t slot, TimePoint now);
  void Send(Target& t, uint32_t slot);
  void SendDue(Target& t, uint32_t slot, TimePoint now);
  void Finish(Target& t, uint32_t slot);
  void FlushAll();
  void Drain(uint32_t socket_index);
  void DrainErrors(uint32_t socket_index);
  void OnPacket(uint32_t socket_index, const icmp::Received& r, int64_t now_ns,
                int64_t wall_offset_ns);
  void OnError(uint32_t socket_index, const icmp::Message& m, bool ours);
  void Blame(const icmp::Received& r);
  void LogChange(Target& t, metrics::RoundState now_status);
};

Expected<bool, std::string> Worker::Impl::Init(std::vector<TargetPlan> plans) {
  epoll = Fd(epoll_create1(EPOLL_CLOEXEC));
  wake = Fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll.valid() || !wake.valid()) {
    return MakeUnexpected(std::string("epoll/eventfd: ") + std::strerror(errno));
  }
  size_t max_payload = icmp::kCookieSize;
  targets.reserve(plans.size());
  for (TargetPlan& plan : plans) {
    max_payload = std::max<size_t>(max_payload, plan.options->payload_size);
    uint32_t count = plan.options->count;
    targets.emplace_back(std::move(plan), count);
  }
  std::vector<TargetPlan>().swap(plans);  // moved-from husks: free them now
  by_address.reserve(targets.size());
  // One socket per family and distinct packet options; ids are random. The
  // targets of a group share one options object, so the socket of the
  // previous target nearly always fits without comparing options again.
  const config::ProbeOptions* last_options = nullptr;
  IpFamily last_family = IpFamily::kV4;
  uint32_t last_socket = 0;
  for (uint32_t slot = 0; slot < targets.size(); ++slot) {
    Target& t = targets[slot];
    if (!t.plan.address) continue;
    by_address.emplace(*t.plan.address, slot);
    IpFamily family = t.plan.address->family();
    if (t.plan.options.get() == last_options && family == last_family) {
      t.socket = last_socket;
      continue;
    }
    icmp::SocketOptions so;
    so.ttl = t.plan.options->ttl;
    so.tos = t.plan.options->tos;
    so.dont_fragment = t.plan.options->dont_fragment;
    so.interface = t.plan.options->interface;
    so.fwmark = t.plan.options->fwmark;
    if (!t.plan.options->source_address.empty()) {
      so.source = IpAddress::Parse(t.plan.options->source_address);
      if (so.source && so.source->family() != family) so.source.reset();
    }
    uint32_t found = static_cast<uint32_t>(sockets.size());
    for (uint32_t i = 0; i < sockets.size(); ++i) {
      if (sockets[i].sock.family() == family && sockets[i].options == so) found = i;
    }
    if (found == sockets.size()) {
      uint16_t id = 0;
      getentropy(&id, sizeof id);
      auto opened = icmp::IcmpSocket::Open(family, opts.socket_kind, so, id);
      if (!opened) return MakeUnexpected(opened.error());
      sockets.push_back(Socket{std::move(opened.value()), so,
                               icmp::SendBatch(kBatch, icmp::kIcmpHeaderSize + max_payload)});
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = found;
      if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, sockets.back().sock.fd(), &ev) != 0) {
        return MakeUnexpected(std::string("epoll_ctl: ") + std::strerror(errno));
      }
    }
    t.socket = found;
    last_options = t.plan.options.get();
    last_family = family;
    last_socket = found;
  }
  // Replies carry up to 60 bytes of IP header; errors quote a whole request.
  receive = std::make_unique<icmp::ReceiveBatch>(kBatch, max_payload + 256);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev);

  due.reserve(targets.size());
  // Random first sequence numbers, so a restarted pool does not repeat the
  // last one's: one kernel seed per worker, spread by splitmix64, instead of a
  // getentropy() system call per target.
  uint64_t state = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  uint64_t seed = 0;
  if (getentropy(&seed, sizeof seed) == 0) state ^= seed;
  for (Target& t : targets) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    t.next_seq = static_cast<uint16_t>(z ^ (z >> 31));
  }
  return true;
}

// Slots are computed when the thread starts, not in Init(): the pool creates
// every worker before starting any, and slots computed early would all be late.
// Phases are aligned to a grid of whole ticks (1-10 ms, coarser for fewer
// targets): the same offset every round, so sends keep their exact interval
// while the worker wakes once a grid step rather than once a target.
void Worker::Impl::Schedule() {
  TimePoint now = Clock::now();
  double rounds_per_second = 0;
  for (const Target& t : targets) {
    rounds_per_second += 1.0 / std::chrono::duration<double>(t.plan.options->interval).count();
  }
  Duration grid = PhaseGrid(rounds_per_second);
  for (uint32_t slot = 0; slot < targets.size(); ++slot) {
    Target& t = targets[slot];
    Duration interval = t.plan.options->interval;
    Duration phase = AlignPhase(t.plan.phase, grid, interval);
    if (phase == t.plan.phase) phase = AlignPhase(t.plan.phase, wheel.tick(), interval);
    t.next_round = opts.one_shot ? now : FirstSlot(opts.epoch, phase, interval, now);
    wheel.Push(t.next_round, slot);
  }
}

void Worker::Impl::BeginRound(Target& t, uint32_t slot, TimePoint now) {
  if (now - t.next_round > opts.late_tolerance) {
    counters.rounds_late.fetch_add(1, std::memory_order_relaxed);
  }
  NextSlot next = Advance(t.next_round, t.plan.options->interval, now);
  if (next.skipped > 0) counters.rounds_late.fetch_add(next.skipped, std::memory_order_relaxed);
  t.next_round = next.due;
  if (!t.plan.address) {
    // Unresolved: the round is lost before it starts; say so in the metrics.
    t.plan.entry.stats->AddSendError(metrics::SendError::kResolve);
    t.round.Begin(t.next_seq);
    Finish(t, slot);
    return;
  }
  t.round.Begin(t.next_seq);
  t.next_send = now;
  SendDue(t, slot, now);
}

void Worker::Impl::Send(Target& t, uint32_t slot) {
  Socket& s = sockets[t.socket];
  if (s.send.full()) FlushAll();
  std::span<uint8_t> buf = s.send.Next();
  uint16_t seq = t.round.next_sequence();
  int64_t now_ns = icmp::MonotonicNanos();
  icmp::Cookie cookie{slot, seq, opts.index, now_ns, opts.token};
  size_t n = icmp::EncodeEchoRequest(s.sock.family(), s.sock.echo_id(), seq, cookie,
                                     t.plan.options->payload_size, buf);
  t.round.OnSent(now_ns, n > 0);
  t.next_seq = static_cast<uint16_t>(seq + 1);
  t.next_send += t.plan.options->spacing;
  if (n > 0) s.send.Commit(n, *t.plan.address, Tag(slot, seq));
  if (t.round.all_sent()) t.deadline = Clock::now() + t.plan.options->timeout;
}

void Worker::Impl::Finish(Target& t, uint32_t slot) {
  t.round.Finish(&scratch);
  metrics::PublishedRound p;
  p.sent = scratch.sent;
  p.received = scratch.received;
  p.rtt_min = scratch.rtt_min;
  p.rtt_avg = scratch.rtt_avg;
  p.rtt_max = scratch.rtt_max;
  p.rtt_stddev = scratch.rtt_stddev;
  p.reply_ttl = t.last_ttl;
  p.completed_at = static_cast<double>(icmp::RealtimeNanos()) / 1e9;
  p.rtts = scratch.rtts;
  t.plan.entry.stats->Publish(p, bounds);
  counters.rounds_completed.fetch_add(1, std::memory_order_relaxed);
  if (!opts.one_shot) LogChange(t, metrics::StateOf(p.sent, p.received));
  if (opts.one_shot) t.done = true;
  (void)slot;
}

// One line when a target goes up or down (partial counts as up), at most one
// per target per kLogEvery, so a flapping host cannot flood the log.
void Worker::Impl::LogChange(Target& t, metrics::RoundState now_status) {
  constexpr Duration kLogEvery = std::chrono::seconds(10);
  int8_t before = t.last_status;
  t.last_status = static_cast<int8_t>(now_status);
  using metrics::RoundState;
  bool was_up = before >= 0 && static_cast<RoundState>(before) != RoundState::kNoResponse;
  bool is_up = now_status != RoundState::kNoResponse;
  if (before < 0 ? is_up : was_up == is_up) return;
  TimePoint now = Clock::now();
  if (t.last_logged != TimePoint{} && now - t.last_logged < kLogEvery) {
    ++t.suppressed;
    return;
  }
  t.last_logged = now;
  log.Info(is_up ? "target up" : "target down",
           {{"target", t.plan.entry.info->name},
            {"address", t.plan.entry.info->address},
            {"from", before < 0 ? "unknown" : metrics::StateName(static_cast<RoundState>(before))},
            {"to", metrics::StateName(now_status)},
            {"suppressed_changes", std::to_string(t.suppressed)}});
  t.suppressed = 0;
}

// Sends everything of the round that is due by `now`: with spacing 0 (or
// after a late wake-up) several requests leave in the same pass.
void Worker::Impl::SendDue(Target& t, uint32_t slot, TimePoint now) {
  while (!t.round.all_sent() && now >= t.next_send) Send(t, slot);
}

// Called when the target's wheel entry is due (never early). The entry may be
// stale (a round that completed before its deadline): then only the next
// event is queued. Every target keeps exactly one entry in the wheel.
void Worker::Impl::Handle(uint32_t slot, TimePoint now) {
  Target& t = targets[slot];
  if (t.done) return;
  if (t.round.active()) {
    SendDue(t, slot, now);
    if (t.round.all_sent() && now >= t.deadline) Finish(t, slot);
  }
  if (!t.round.active() && !t.done && now >= t.next_round) BeginRound(t, slot, now);
  if (t.done) return;
  TimePoint next = t.next_round;
  if (t.round.active()) next = t.round.all_sent() ? t.deadline : t.next_send;
  wheel.Push(next, slot);  // always later than now, so never handed out twice a pass
}

void Worker::Impl::RunDue(TimePoint now) {
  due.clear();
  wheel.PopDue(now, &due);
  for (uint32_t slot : due) Handle(slot, now);
  FlushAll();
  // Replies from near hosts (loopback, the LAN) are often queued already:
  // reading them now saves the wake-up epoll would report them with.
  if (!due.empty()) {
    for (uint32_t i = 0; i < sockets.size(); ++i) Drain(i);
  }
}

void Worker::Impl::FlushAll() {
  for (Socket& s : sockets) {
    if (s.send.size() == 0) continue;
    s.send.Flush(
        s.sock.fd(),
        [&](uint64_t tag, int64_t ns) { targets[TagSlot(tag)].round.SetSendTime(TagSeq(tag), ns); },
        [&](uint64_t tag, int err) {
          Target& t = targets[TagSlot(tag)];
          t.round.MarkFailed(TagSeq(tag));
          t.plan.entry.stats->AddSendError(metrics::SendErrorFromErrno(err));
        });
  }
}

void Worker::Impl::Blame(const icmp::Received& r) {
  std::optional<IpAddress> from = IpAddress::FromSockaddr(r.source, r.source_len);
  if (from) {
    auto it = by_address.find(*from);
    if (it != by_address.end()) {
      targets[it->second].plan.entry.stats->AddInvalid();
      return;
    }
  }
  counters.unmatched_replies.fetch_add(1, std::memory_order_relaxed);
}

// An ICMP error about one of our requests is blamed on its target as a send
// error, never counted as a reply. Linux quotes the whole request, so the
// cookie names the target; a router quoting only the RFC 792 minimum (8
// bytes: no cookie) is matched by destination, echo id and a sequence the
// target really sent. A failure already counted when the send itself failed
// (an nft reject both fails sendmsg and answers with an ICMP error) is not
// counted again.
void Worker::Impl::OnError(uint32_t socket_index, const icmp::Message& m, bool ours) {
  if (!m.quoted_destination) return;
  uint32_t slot = 0;
  if (ours) {
    slot = m.cookie->slot;
  } else if (!m.cookie && m.quotes_echo_request && m.id == sockets[socket_index].sock.echo_id()) {
    auto it = by_address.find(*m.quoted_destination);
    if (it == by_address.end()) return;
    slot = it->second;
    if (targets[slot].socket != socket_index || !targets[slot].round.Sent(m.sequence)) return;
  } else {
    return;
  }
  Target& t = targets[slot];
  if (*m.quoted_destination != *t.plan.address || t.round.SendFailed(m.sequence)) return;
  t.plan.entry.stats->AddSendError(FromIcmpError(m.error));
}

void Worker::Impl::OnPacket(uint32_t socket_index, const icmp::Received& r, int64_t now_ns,
                            int64_t wall_offset_ns) {
  const Socket& s = sockets[socket_index];
  icmp::ParseResult parsed =
      icmp::ParseMessage(s.sock.family(), s.sock.delivers_ip_header(), r.data);
  if (!parsed.message) {
    Blame(r);
    return;
  }
  const icmp::Message& m = *parsed.message;
  if (m.kind == icmp::MessageKind::kOther) return;
  bool ours = m.cookie && m.cookie->token == opts.token && m.cookie->worker == opts.index &&
              m.cookie->slot < targets.size() && targets[m.cookie->slot].socket == socket_index &&
              targets[m.cookie->slot].plan.address;
  if (m.kind == icmp::MessageKind::kError) {
    OnError(socket_index, m, ours);
    return;
  }
  if (m.id != s.sock.echo_id()) return;  // another pinger's reply (raw sockets see all)
  if (!ours) {
    Blame(r);
    return;
  }
  Target& t = targets[m.cookie->slot];
  // A valid cookie from the wrong host (NAT, anycast, a spoof) counts as an
  // invalid reply to the request it claims to answer.
  if (!t.plan.address->Matches(r.source, r.source_len) || m.cookie->sequence != m.sequence ||
      !m.payload_intact) {
    t.plan.entry.stats->AddInvalid();
    return;
  }
  // Round-trip times are taken on the monotonic clock, so a wall-clock step
  // cannot bend them: the kernel's receive stamp (CLOCK_REALTIME) is moved
  // onto it with the offset read just after the batch arrived. If the wall
  // clock stepped in between, the result lands outside [send, now] and the
  // receive time falls back to now.
  int64_t rx = r.kernel_time_ns != 0 ? r.kernel_time_ns - wall_offset_ns : now_ns;
  if (rx > now_ns || now_ns - rx > t.plan.options->interval.count()) rx = now_ns;
  // A reply after the round's deadline is late even if the deadline's tick
  // has not been handled yet: the timeout is exact.
  if (t.round.active() && t.round.all_sent() && rx > t.deadline.time_since_epoch().count()) {
    Finish(t, m.cookie->slot);
  }
  Duration rtt{};
  switch (t.round.OnReply(m.sequence, rx, m.cookie->send_time_ns, &rtt)) {
    case Verdict::kCounted:
      if (m.ttl) {
        t.last_ttl = *m.ttl;
      } else if (r.ttl) {
        t.last_ttl = *r.ttl;
      }
      if (t.round.complete()) Finish(t, m.cookie->slot);
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

// Datagram sockets report ICMP errors (and some local ones) through their
// error queue, with our request attached: blame its target, never count it.
// Raw sockets read the ICMP errors as messages (OnError), so only their local
// errors count here. A failure already counted at send is not counted again.
void Worker::Impl::DrainErrors(uint32_t socket_index) {
  const Socket& s = sockets[socket_index];
  bool raw = s.sock.kind() == icmp::SocketKind::kRaw;
  icmp::QueuedError e;
  for (int i = 0; i < 256 && icmp::ReadQueuedError(s.sock.fd(), error_buffer, &e); ++i) {
    if (raw && e.from_icmp) continue;
    uint32_t slot = 0;
    uint16_t sequence = 0;
    if (std::optional<icmp::Request> req = icmp::DecodeRequest(s.sock.family(), e.request)) {
      if (req->cookie.token != opts.token || req->cookie.worker != opts.index) continue;
      slot = req->cookie.slot;
      sequence = req->sequence;
    } else if (std::optional<uint16_t> seq = icmp::EchoRequestSequence(s.sock.family(), e.request);
               seq && e.destination) {
      // An 8-byte quote: no cookie, so match destination and a sequence it was sent.
      auto it = by_address.find(*e.destination);
      if (it == by_address.end() || !targets[it->second].round.Sent(*seq)) continue;
      slot = it->second;
      sequence = *seq;
    } else {
      continue;
    }
    if (slot >= targets.size() || targets[slot].socket != socket_index) continue;
    Target& t = targets[slot];
    if (t.round.SendFailed(sequence)) continue;  // counted when the send failed
    metrics::SendError reason =
        e.from_icmp ? FromIcmpError(icmp::ClassifyError(s.sock.family(), e.type, e.code))
                    : metrics::SendErrorFromErrno(e.error);
    t.plan.entry.stats->AddSendError(reason);
  }
}

void Worker::Impl::Drain(uint32_t socket_index) {
  for (int i = 0; i < kMaxReceiveRounds; ++i) {
    int n = receive->Receive(sockets[socket_index].sock.fd());
    if (n == 0) return;
    if (n < 0) {
      // Usually a pending error an ICMP error left on the socket (the call
      // consumed it): the queued messages are still there, read on.
      log.Debug("receive failed", {{"error", std::strerror(-n)}});
      continue;
    }
    int64_t now_ns = icmp::MonotonicNanos();
    int64_t wall_offset_ns = icmp::RealtimeNanos() - now_ns;
    for (int k = 0; k < n; ++k) {
      OnPacket(socket_index, receive->Get(static_cast<size_t>(k)), now_ns, wall_offset_ns);
    }
    // A short batch means the queue is empty: skip the recvmmsg that would
    // only say EAGAIN (a quarter of all syscalls at 50 000 targets).
    if (static_cast<size_t>(n) < kBatch) return;
  }
}

void Worker::Impl::Loop() {
  Schedule();
  epoll_event events[16];
  while (!stopping.load(std::memory_order_relaxed)) {
    TimePoint now = Clock::now();
    RunDue(now);
    // Sleep until the next tick with work with epoll_pwait2's nanosecond
    // timeout: no timerfd, so a wake-up costs one syscall instead of three.
    timespec timeout{1, 0};
    timespec* wait = nullptr;
    if (std::optional<TimePoint> next = wheel.NextDue()) {
      auto ns = std::max<int64_t>(0, (*next - Clock::now()).count());
      timeout = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      wait = &timeout;
    }
    int n = epoll_pwait2(epoll.get(), events, 16, wait, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      log.Error("epoll_pwait2 failed", {{"error", std::strerror(errno)}});
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t key = events[i].data.u64;
      if (key == kWakeKey) return;
      if (events[i].events & EPOLLERR) DrainErrors(static_cast<uint32_t>(key));
      if (events[i].events & EPOLLIN) Drain(static_cast<uint32_t>(key));
    }
  }
}

Expected<std::unique_ptr<Worker>, std::string> Worker::Create(const WorkerOptions& options,
                                                              std::vector<TargetPlan> targets,
                                                              std::span<const double> bucket_bounds,
                                                              PoolCounters& counters,
                                                              Logger& logger) {
  auto impl = std::make_unique<Impl>(options, bucket_bounds, counters, logger);
  auto ok = impl->Init(std::move(targets));
  if (!ok) return MakeUnexpected(ok.error());
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { impl_->Loop(); });
}

void Worker::Stop() {
  impl_->stopping.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(impl_->wake.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

size_t Worker::target_count() const { return impl_->targets.size(); }

std::vector<uint16_t> Worker::echo_ids() const {
  std::vector<uint16_t> ids;
  for (const auto& s : impl_->sockets) ids.push_back(s.sock.echo_id());
  return ids;
}

}  // namespace ping_exporter::probe
