#include "probe/worker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ping_exporter::probe {
namespace {

constexpr size_t kBatch = 128;
// Receive batches read per wake-up and socket, so timers are never starved.
constexpr int kMaxReceiveRounds = 32;
constexpr uint64_t kWakeKey = UINT64_MAX;
// Send stamps are read right after each sendmmsg() or at the next grid step.
constexpr int64_t kMaxStampAgeNs = 1'000'000'000;

Now ReadClocks() { return Now{Clock::now(), icmp::RealtimeNanos()}; }

}  // namespace

void DoneLatch::CountDown() {
  std::lock_guard<std::mutex> lock(mu_);
  if (remaining_ > 0 && --remaining_ == 0) cv_.notify_all();
}

bool DoneLatch::WaitUntil(TimePoint deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return remaining_ == 0; });
}

// The I/O half of a worker: sockets, epoll, batches. Everything about targets
// is the table's; this side reads the clocks and the kernel and passes both on.
struct Worker::Impl {
  struct Socket {
    icmp::IcmpSocket sock;
    icmp::SocketOptions options;
  };

  WorkerOptions opts;
  Logger& log;
  TargetTable table;
  std::vector<Socket> sockets;
  std::vector<icmp::SendBatch> batches;  // one per socket, same index
  Outbox outbox;
  std::unique_ptr<icmp::ReceiveBatch> receive;  // replies and error-queue entries
  Fd epoll, wake;
  std::atomic<bool> stopping{false};
  bool reported_done = false;

  Impl(const WorkerOptions& o, std::vector<TargetPlan> plans, PoolCounters& counters, Logger& l)
      : opts(o), log(l), table(o.table, std::move(plans), counters, l) {
    outbox.flush = [this] { FlushAll(); };
  }

  Expected<bool, std::string> Init();
  void Loop();
  void RunDue();
  void FlushAll();
  void Drain(uint32_t socket_index);
  void DrainErrors(uint32_t socket_index);
  void ReportIfDone();
};

Expected<bool, std::string> Worker::Impl::Init() {
  epoll = Fd(epoll_create1(EPOLL_CLOEXEC));
  wake = Fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll.valid() || !wake.valid()) {
    return MakeUnexpected(std::string("epoll/eventfd: ") + std::strerror(errno));
  }
  size_t max_payload = table.max_payload();
  // One socket per family and distinct packet options; ids are random. The
  // targets of a group share one options object, so the socket of the
  // previous target nearly always fits without comparing options again.
  const config::ProbeOptions* last_options = nullptr;
  IpFamily last_family = IpFamily::kV4;
  uint32_t last_socket = 0;
  for (uint32_t slot = 0; slot < table.size(); ++slot) {
    const TargetPlan& plan = table.plan(slot);
    if (!plan.address) continue;
    IpFamily family = plan.address->family();
    if (plan.options.get() == last_options && family == last_family) {
      table.Bind(slot, last_socket);
      continue;
    }
    icmp::SocketOptions so;
    so.ttl = plan.options->ttl;
    so.tos = plan.options->tos;
    so.dont_fragment = plan.options->dont_fragment;
    so.interface = plan.options->interface;
    so.fwmark = plan.options->fwmark;
    if (!plan.options->source_address.empty()) {
      so.source = IpAddress::Parse(plan.options->source_address);
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
      const icmp::IcmpSocket& sock = opened.value();
      found = table.AddEndpoint(Endpoint{sock.family(), sock.kind(), sock.echo_id()});
      if (!sock.kernel_send_times()) {
        log.Debug("no kernel send timestamps on this socket: send times from user space",
                  {{"family", family == IpFamily::kV4 ? "ip4" : "ip6"},
                   {"socket", icmp::SocketKindName(sock.kind())}});
      }
      batches.emplace_back(kBatch, icmp::kIcmpHeaderSize + max_payload, sock.kernel_send_times());
      sockets.push_back(Socket{std::move(opened.value()), so});
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = found;
      if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, sockets.back().sock.fd(), &ev) != 0) {
        return MakeUnexpected(std::string("epoll_ctl: ") + std::strerror(errno));
      }
    }
    table.Bind(slot, found);
    last_options = plan.options.get();
    last_family = family;
    last_socket = found;
  }
  outbox.batches = batches;
  // Replies carry up to 60 bytes of IP header; errors quote a whole request.
  receive = std::make_unique<icmp::ReceiveBatch>(kBatch, max_payload + 256);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev);
  return true;
}

void Worker::Impl::RunDue() {
  // Coalesced: replies and errors are not waited for but read once a grid
  // step, before the deadlines of that step are judged.
  if (table.coalesced()) {
    for (uint32_t i = 0; i < sockets.size(); ++i) {
      DrainErrors(i);
      Drain(i);
    }
  }
  size_t due = table.RunDue(ReadClocks(), outbox);
  FlushAll();
  // Replies from near hosts (loopback, the LAN) are often queued already:
  // reading them now saves the wake-up epoll would report them with.
  if (due > 0) {
    for (uint32_t i = 0; i < sockets.size(); ++i) Drain(i);
  }
}

void Worker::Impl::FlushAll() {
  for (uint32_t i = 0; i < sockets.size(); ++i) {
    if (batches[i].size() == 0) continue;
    batches[i].Flush(
        sockets[i].sock.fd(), icmp::MonotonicNanos,
        [&](std::span<const uint64_t> tags, int64_t before_ns, int64_t after_ns) {
          table.OnSent(tags, before_ns, after_ns);
        },
        [&](uint64_t tag, int err) { table.OnSendFailed(tag, err); });
    // On loopback and most drivers the stamps are queued by the time
    // sendmmsg() returns: take them now, before any reply is read.
    if (sockets[i].sock.kernel_send_times()) DrainErrors(i);
  }
}

void Worker::Impl::DrainErrors(uint32_t socket_index) {
  int fd = sockets[socket_index].sock.fd();
  const icmp::SendBatch& batch = batches[socket_index];
  for (int round = 0; round < kMaxReceiveRounds; ++round) {
    int n = receive->ReceiveErrors(fd);
    if (n <= 0) return;
    // Kernel stamps are on CLOCK_REALTIME; the table keeps CLOCK_MONOTONIC.
    Now now = ReadClocks();
    const int64_t now_ns = now.monotonic.time_since_epoch().count();
    const int64_t wall_minus_mono = now.wall_ns - now_ns;
    for (int k = 0; k < n; ++k) {
      icmp::QueuedError e = receive->GetError(static_cast<size_t>(k));
      if (!e.is_send_time) {
        table.OnQueuedError(socket_index, e);
        continue;
      }
      std::optional<uint64_t> tag = batch.TagOfSendId(e.send_id);
      const int64_t sent_ns = e.send_time_ns - wall_minus_mono;
      // A stamp from the future or from long ago means the wall clock stepped
      // between the stamp and our reading of it: keep the batch's own time.
      if (tag && e.send_time_ns != 0 && sent_ns <= now_ns && now_ns - sent_ns < kMaxStampAgeNs) {
        table.OnSentAt(*tag, sent_ns);
      }
    }
    if (static_cast<size_t>(n) < kBatch) return;
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
    Now now = ReadClocks();
    for (int k = 0; k < n; ++k) {
      table.OnPacket(socket_index, receive->Get(static_cast<size_t>(k)), now);
    }
    // A short batch means the queue is empty: skip the recvmmsg that would
    // only say EAGAIN (a quarter of all syscalls at 50 000 targets).
    if (static_cast<size_t>(n) < kBatch) return;
  }
}

void Worker::Impl::ReportIfDone() {
  if (opts.done == nullptr || reported_done || !table.finished()) return;
  reported_done = true;
  opts.done->CountDown();
}

// Slots are placed when the thread starts, not in Init(): the pool creates
// every worker before starting any, and slots placed early would all be late.
void Worker::Impl::Loop() {
  table.Start(Clock::now());
  if (table.coalesced()) {
    // A busy worker wakes every grid step anyway: a reply or error in between
    // waits for it (kernel stamps keep the RTT exact) instead of waking it.
    // Off the epoll set altogether, so the kernel does not even run the
    // wake-up callback for every reply and every send stamp.
    for (const Socket& s : sockets) epoll_ctl(epoll.get(), EPOLL_CTL_DEL, s.sock.fd(), nullptr);
  }
  epoll_event events[16];
  while (!stopping.load(std::memory_order_relaxed)) {
    RunDue();
    ReportIfDone();
    // Sleep until the next tick with work with epoll_pwait2's nanosecond
    // timeout: no timerfd, so a wake-up costs one syscall instead of three.
    timespec timeout{1, 0};
    timespec* wait = nullptr;
    if (std::optional<TimePoint> next = table.NextDue()) {
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
    ReportIfDone();
  }
}

Expected<std::unique_ptr<Worker>, std::string> Worker::Create(const WorkerOptions& options,
                                                              std::vector<TargetPlan> targets,
                                                              PoolCounters& counters,
                                                              Logger& logger) {
  WorkerOptions o = options;
  // Random first sequence numbers, so a restarted pool does not repeat the
  // last one's: one kernel seed per worker instead of a getentropy() per target.
  o.table.seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  uint64_t seed = 0;
  if (getentropy(&seed, sizeof seed) == 0) o.table.seed ^= seed;
  auto impl = std::make_unique<Impl>(o, std::move(targets), counters, logger);
  auto ok = impl->Init();
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

size_t Worker::target_count() const { return impl_->table.size(); }

std::vector<uint16_t> Worker::echo_ids() const {
  std::vector<uint16_t> ids;
  for (const auto& s : impl_->sockets) ids.push_back(s.sock.echo_id());
  return ids;
}

}  // namespace ping_exporter::probe
