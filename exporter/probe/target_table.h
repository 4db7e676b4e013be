#pragma once
// The core of a worker, without its sockets: one shard's targets, their
// rounds and schedule, and the attribution of every packet that arrives to the
// target it is about. It opens no fd and reads no clock: the worker passes in
// what the kernel handed over and when, so tests can drive it with synthetic
// packets and chosen times.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "common/ip_address.h"
#include "common/log.h"
#include "icmp/packet.h"
#include "icmp/socket.h"
#include "metrics/round_state.h"
#include "probe/round.h"
#include "probe/schedule.h"
#include "probe/target_plan.h"

namespace ping_exporter::probe {

/// Counters shared by all workers of a pool. Thread-safe (atomics).
struct PoolCounters {
  std::atomic<uint64_t> rounds_late{0};
  std::atomic<uint64_t> rounds_completed{0};
  std::atomic<uint64_t> unmatched_replies{0};  ///< replies no target could be blamed for
};

struct TableOptions {
  uint16_t worker = 0;  ///< the worker's index, carried in every cookie
  uint64_t token = 0;   ///< per-process secret carried in every request
  TimePoint epoch;      ///< shared origin of all rounds' slots
  Duration late_tolerance = std::chrono::milliseconds(25);
  /// Probe every target once, starting at Start(), then stop scheduling it.
  bool one_shot = false;
  /// Spreads the targets' first sequence numbers, so a restarted pool does not
  /// repeat the last one's (Worker::Create draws it from the kernel).
  uint64_t seed = 0;
};

/// A socket as the table sees it: what requests for it look like and how to
/// read what it delivers.
struct Endpoint {
  IpFamily family = IpFamily::kV4;
  icmp::SocketKind kind = icmp::SocketKind::kRaw;
  uint16_t echo_id = 0;
};

/// The clocks at one moment, read by the caller once per wake-up or batch.
struct Now {
  TimePoint monotonic;  ///< Clock (CLOCK_MONOTONIC): schedule, send and receive times
  int64_t wall_ns = 0;  ///< CLOCK_REALTIME at the same moment (ns since the epoch)
};

/// Where RunDue() writes requests: one SendBatch per endpoint (same index),
/// and `flush`, which the table calls when a batch is full and which must
/// empty them all, reporting through OnSent()/OnSendFailed(). A call per
/// batch, never per packet.
struct Outbox {
  std::span<icmp::SendBatch> batches;
  std::function<void()> flush;
};

/// One worker's targets: slots, the address index, each target's rounds and
/// next events (a TimerWheel), reply and error attribution, publishing to the
/// targets' TargetStats, and state-change logging.
///
/// A packet counts as a reply only when echo id, sequence, source address and
/// the cookie (token, worker, slot, send time) all match; spoofed, corrupt,
/// replayed, duplicate and late replies are counted apart, and ICMP errors
/// about our requests count as send errors of their target. A reply to one
/// of the target's last Round::kHistory requests after its round ended is
/// late, however many rounds late; replies are also checked for arriving
/// out of sequence order, and counted ones feed the target's RFC 3550 jitter.
///
/// Not thread-safe: one worker thread owns it. Allocates only while being
/// built; the packet path takes no lock and allocates nothing. Never throws
/// after construction.
class TargetTable {
 public:
  TargetTable(const TableOptions& options, std::vector<TargetPlan> plans, PoolCounters& counters,
              Logger& logger);
  TargetTable(const TargetTable&) = delete;
  TargetTable& operator=(const TargetTable&) = delete;

  size_t size() const { return targets_.size(); }
  const TargetPlan& plan(uint32_t slot) const { return targets_[slot].plan; }
  /// The largest payload of any target (at least the cookie): sizes the buffers.
  size_t max_payload() const { return max_payload_; }

  /// Adds a socket and returns its index (the endpoint of Bind(), OnPacket()...).
  uint32_t AddEndpoint(const Endpoint& endpoint);
  /// Sends the requests of target `slot` through endpoint `endpoint`. Every
  /// resolved target is bound before Start().
  void Bind(uint32_t slot, uint32_t endpoint);

  /// Places every target's first round: at `now` when one-shot, else at its
  /// first slot after `now` (phases aligned to a grid, see PhaseGrid()).
  void Start(TimePoint now);
  /// Handles every target whose next event is due by `now.monotonic`: starts
  /// rounds, writes the requests due into `out` (with `now` as their send time
  /// until OnSent() corrects it), ends rounds at their deadline and publishes
  /// them. Returns how many targets were due.
  size_t RunDue(const Now& now, Outbox& out);
  /// The tick of the earliest pending event; nullopt when nothing is scheduled.
  std::optional<TimePoint> NextDue() const;
  /// Set by Start(): the worker is busy enough that nearly every grid step
  /// sends, so deadlines wait for the grid step after them (their replies are
  /// judged by kernel receive time, so the timeout stays exact) and the worker
  /// may read replies once a step instead of waking for each.
  bool coalesced() const { return coalesce_; }
  /// One-shot: every target's round is over (and published).
  bool finished() const { return options_.one_shot && done_ == targets_.size(); }

  /// The requests with these tags (as written into the outbox) left one
  /// after another between `before_ns` and `after_ns` (monotonic, around one
  /// sendmmsg()): each gets its share of that span as its send time, from
  /// which its RTT and, for a round's last request, the deadline count.
  void OnSent(std::span<const uint64_t> tags, int64_t before_ns, int64_t after_ns);
  /// The kernel's send stamp of one request (moved onto the monotonic clock):
  /// it replaces the estimate OnSent() made.
  void OnSentAt(uint64_t tag, int64_t send_ns);
  /// The request with this tag could not be sent (`error` is an errno).
  void OnSendFailed(uint64_t tag, int error);

  /// One datagram read from endpoint `endpoint` at `now` (r.kernel_time_ns,
  /// when present, is on CLOCK_REALTIME).
  void OnPacket(uint32_t endpoint, const icmp::Received& r, const Now& now);
  /// One entry of endpoint `endpoint`'s error queue.
  void OnQueuedError(uint32_t endpoint, const icmp::QueuedError& e);

 private:
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
    // RFC 3550 interarrival jitter over counted replies in arrival order,
    // kept as 16 times the estimate (the RFC's integer form), in ns.
    int64_t last_rtt_ns = -1;
    int64_t jitter16_ns = -1;  // -1: fewer than two replies yet
    uint16_t highest_seq = 0;  // of the replies (counted or late) so far
    bool replied = false;      // highest_seq is set
    bool done = false;         // one-shot: its round is over
  };

  void Handle(uint32_t slot, const Now& now, Outbox& out);
  void HandleDeadline(uint32_t slot, const Now& now);
  void PushDeadline(const Target& t, uint32_t slot);
  TimePoint GridStepAtOrAfter(TimePoint t) const;
  void BeginRound(Target& t, uint32_t slot, const Now& now, Outbox& out);
  void SendDue(Target& t, uint32_t slot, const Now& now, Outbox& out);
  void Send(Target& t, uint32_t slot, const Now& now, Outbox& out);
  void Finish(Target& t, const Now& now);
  void LogChange(Target& t, metrics::RoundState now_status, TimePoint now);
  void OnError(uint32_t endpoint, const icmp::Message& m, bool ours);
  void NoteOrder(Target& t, uint16_t seq);
  void NoteRtt(Target& t, Duration rtt);
  void Blame(const icmp::Received& r);
  /// The first target pinging `address`, if any (a binary search of by_address_).
  std::optional<uint32_t> SlotOf(const IpAddress& address) const;

  TableOptions options_;
  PoolCounters& counters_;
  Logger& log_;
  std::vector<Target> targets_;
  std::vector<Endpoint> endpoints_;
  std::vector<uint32_t> by_address_;  // resolved slots, sorted by address
  size_t max_payload_ = icmp::kCookieSize;
  // One entry per target (its next send or round) on a 1 ms grid: every target of a
  // tick is handled in one wake-up and its sends share one sendmmsg().
  TimerWheel wheel_;
  // The deadlines of rounds whose requests are all out, kept apart from
  // wheel_: a round that ends early (every reply in) leaves its entry here,
  // and the entry is dropped on open_'s bit, without touching the target's
  // state, which has left the cache since its requests went out.
  TimerWheel deadlines_;
  std::vector<uint64_t> open_;  // bit per slot: its round is active
  Duration grid_{};             // phase grid chosen by Start()
  bool coalesce_ = false;       // see coalesced()
  std::vector<uint32_t> due_;   // reused by RunDue()
  RoundResult scratch_;
  size_t done_ = 0;  // one-shot targets whose round is over
};

}  // namespace ping_exporter::probe
