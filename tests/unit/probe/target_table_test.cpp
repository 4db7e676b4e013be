// The worker's core without sockets: synthetic packets at chosen times, so
// reply and error attribution is tested unprivileged, without sleeps.
#include "probe/target_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "icmp/packet.h"
#include "test_util/text.h"

namespace ping_exporter::probe {
namespace {

using metrics::SendError;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kToken = 0x0123456789ABCDEFull;
constexpr uint16_t kWorker = 3;
constexpr uint16_t kEchoId = 0x4242;
constexpr int64_t kWallOffsetNs = 1'600'000'000'000'000'000;  // CLOCK_REALTIME - CLOCK_MONOTONIC
const TimePoint kT0 = TimePoint(seconds(1000));
// How long after its wake-up a request really leaves (what OnSent reports).
constexpr Duration kSendDelay = microseconds(50);

int64_t Nanos(Duration since_t0) { return (kT0 + since_t0).time_since_epoch().count(); }

config::ProbeOptions Options(uint32_t count, Duration spacing = milliseconds(10)) {
  config::ProbeOptions o;
  o.count = count;
  o.spacing = spacing;
  o.timeout = milliseconds(100);
  o.interval = seconds(1);
  o.payload_size = 56;
  return o;
}

uint64_t SendErrors(const metrics::TargetSnapshot& s, SendError e) {
  return s.send_errors[static_cast<size_t>(e)];
}

void PutChecksum(std::vector<uint8_t>& icmp) {
  icmp[2] = icmp[3] = 0;
  uint16_t c = icmp::InternetChecksum(icmp);
  icmp[2] = static_cast<uint8_t>(c >> 8);
  icmp[3] = static_cast<uint8_t>(c);
}

// An IPv4 header (protocol ICMP) in front of `icmp`, as raw IPv4 sockets deliver it.
std::vector<uint8_t> WrapV4(const std::vector<uint8_t>& icmp, uint8_t ttl,
                            const IpAddress& destination) {
  std::vector<uint8_t> p(20 + icmp.size());
  p[0] = 0x45;
  uint16_t total = static_cast<uint16_t>(20 + icmp.size());
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[8] = ttl;
  p[9] = 1;
  std::memcpy(p.data() + 16, &destination.v4(), 4);
  std::copy(icmp.begin(), icmp.end(), p.begin() + 20);
  return p;
}

// A request as the table wrote it into the outbox.
struct Request {
  uint64_t tag = 0;  // as the outbox carried it
  uint32_t slot = 0;
  uint16_t sequence = 0;
  std::vector<uint8_t> icmp;
  icmp::Cookie cookie;
};

// The reply a host would send to `req`: an IPv4 one with its IP header (raw
// sockets), an IPv6 one as it comes (no header).
std::vector<uint8_t> ReplyTo(const Request& req, IpFamily family, uint8_t ttl = 61) {
  std::vector<uint8_t> icmp = req.icmp;
  if (family == IpFamily::kV6) {
    icmp[0] = 129;
    return icmp;
  }
  icmp[0] = 0;
  PutChecksum(icmp);
  return WrapV4(icmp, ttl, IpAddress());
}

// The same request re-encoded with a changed cookie or id (a forged or foreign one).
Request Reencoded(const Request& req, const icmp::Cookie& cookie, uint16_t id = kEchoId) {
  Request r = req;
  r.cookie = cookie;
  r.icmp.assign(req.icmp.size(), 0);
  size_t n = icmp::EncodeEchoRequest(IpFamily::kV4, id, req.sequence, cookie,
                                     req.icmp.size() - icmp::kIcmpHeaderSize, r.icmp);
  EXPECT_EQ(n, r.icmp.size());
  return r;
}

// An IPv4 ICMP error of `type`/`code` from a router, quoting the request to
// `destination`: its IP header and `quote_bytes` of it (0: all).
std::vector<uint8_t> ErrorAbout(const Request& req, const IpAddress& destination, uint8_t type,
                                uint8_t code, size_t quote_bytes = 0) {
  std::vector<uint8_t> quoted = WrapV4(req.icmp, 64, destination);
  if (quote_bytes != 0) quoted.resize(20 + quote_bytes);
  std::vector<uint8_t> err(icmp::kIcmpHeaderSize + quoted.size());
  err[0] = type;
  err[1] = code;
  std::copy(quoted.begin(), quoted.end(), err.begin() + icmp::kIcmpHeaderSize);
  PutChecksum(err);
  return WrapV4(err, 60, IpAddress());
}

// The state-change line of a target named by its address, as logfmt writes it.
std::string StateLine(const std::string& up_or_down, const std::string& address,
                      const std::string& from, const std::string& to, int suppressed) {
  return "msg=\"target " + up_or_down + "\" target=" + address + " address=" + address +
         " from=" + from + " to=" + to + " suppressed_changes=" + std::to_string(suppressed);
}

// A table over the given addresses ("" = a name that did not resolve), all
// with `options`, with one IPv4 and one IPv6 endpoint of `kind`. Time starts
// at kT0; the test moves it by passing times to Run() and Deliver(). With
// `reuse`, the targets keep those entries, as unchanged targets do on reload.
class Harness {
 public:
  Harness(const std::vector<std::string>& addresses, const config::ProbeOptions& options,
          icmp::SocketKind kind = icmp::SocketKind::kRaw, bool one_shot = false,
          const std::vector<metrics::TargetEntry>& reuse = {}, LogLevel level = LogLevel::kInfo)
      : log_(logs_, level, LogFormat::kLogfmt) {
    std::vector<TargetPlan> plans;
    for (const std::string& a : addresses) {
      metrics::TargetInfo info;
      info.name = a.empty() ? "unresolved.invalid" : a;
      TargetPlan plan;
      if (!a.empty()) {
        plan.address = IpAddress::Parse(a);
        info.address = a;
      }
      plan.options = options;
      plan.entry = plans.size() < reuse.size()
                       ? reuse[plans.size()]
                       : metrics::TargetEntry::Make(std::move(info), nullptr);
      entries_.push_back(plan.entry);
      plans.push_back(std::move(plan));
    }
    TableOptions o;
    o.worker = kWorker;
    o.token = kToken;
    o.epoch = kT0;
    o.one_shot = one_shot;
    o.seed = 7;
    table_ = std::make_unique<TargetTable>(o, std::move(plans), counters_, log_);
    v4_ = table_->AddEndpoint(Endpoint{IpFamily::kV4, kind, kEchoId});
    v6_ = table_->AddEndpoint(Endpoint{IpFamily::kV6, kind, kEchoId});
    for (uint32_t slot = 0; slot < table_->size(); ++slot) {
      const auto& address = table_->plan(slot).address;
      if (address) table_->Bind(slot, address->is_v4() ? v4_ : v6_);
    }
    for (int i = 0; i < 2; ++i) {
      batches_.emplace_back(4, icmp::kIcmpHeaderSize + table_->max_payload());
    }
    outbox_.batches = batches_;
    outbox_.flush = [this] { Flush(); };
    table_->Start(kT0);
  }

  // Runs the due events at kT0 + at; the requests leave kSendDelay later.
  size_t Run(Duration at) {
    send_ns_ = Nanos(at + kSendDelay);
    size_t due = table_->RunDue(At(at), outbox_);
    Flush();
    return due;
  }
  // Each flush's requests leave one after another over `span` (one sendmmsg()).
  void SetSendSpan(Duration span) { send_span_ = span; }
  // The next flush reports every request as failed with `error`.
  void FailSends(int error) { fail_with_ = error; }

  // A datagram from `from`, stamped by the kernel at kT0 + received, read at
  // kT0 + read (default: the same moment).
  void Deliver(const std::vector<uint8_t>& data, const std::string& from, Duration received,
               std::optional<Duration> read = std::nullopt) {
    IpAddress source = *IpAddress::Parse(from);
    sockaddr_storage ss{};
    icmp::Received r;
    r.data = data;
    r.source_len = source.ToSockaddr(&ss);
    r.source = reinterpret_cast<const sockaddr*>(&ss);
    r.kernel_time_ns = Nanos(received) + kWallOffsetNs;
    table_->OnPacket(source.is_v4() ? v4_ : v6_, r, At(read.value_or(received)));
  }
  void DeliverQueued(const icmp::QueuedError& e, IpFamily family) {
    table_->OnQueuedError(family == IpFamily::kV4 ? v4_ : v6_, e);
  }

  metrics::TargetSnapshot Snapshot(uint32_t slot) const {
    metrics::TargetSnapshot s;
    entries_[slot].stats->Read(&s);
    return s;
  }
  const std::vector<Request>& sent() const { return sent_; }
  const Request& Last(uint32_t slot) const {
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (it->slot == slot) return *it;
    }
    ADD_FAILURE() << "no request for slot " << slot;
    return sent_.front();
  }
  TargetTable& table() { return *table_; }
  const PoolCounters& counters() const { return counters_; }
  std::string logs() const { return logs_.str(); }
  const std::vector<metrics::TargetEntry>& entries() const { return entries_; }
  // How many times `what` occurs in the log; whether `line` is part of it.
  size_t CountLogs(const std::string& what) const { return test_util::CountOf(logs_.str(), what); }
  bool Logged(const std::string& line) const { return logs_.str().find(line) != std::string::npos; }
  // One whole round of one echo per target at kT0 + at: target `slot` answers
  // when answered[slot] is true.
  void Round(Duration at, const std::vector<bool>& answered) {
    Run(at);
    for (uint32_t slot = 0; slot < answered.size(); ++slot) {
      if (!answered[slot]) continue;
      Deliver(ReplyTo(Last(slot), IpFamily::kV4), table_->plan(slot).address->ToString(),
              at + milliseconds(1));
    }
    Run(at + milliseconds(101));
  }

 private:
  static Now At(Duration since_t0) { return Now{kT0 + since_t0, Nanos(since_t0) + kWallOffsetNs}; }

  void Flush() {
    for (icmp::SendBatch& b : batches_) {
      std::vector<uint64_t> tags;
      for (size_t i = 0; i < b.size(); ++i) {
        Request r;
        r.tag = b.tag(i);
        r.slot = static_cast<uint32_t>(b.tag(i) >> 16);
        r.sequence = static_cast<uint16_t>(b.tag(i));
        r.icmp.assign(b.packet(i).begin(), b.packet(i).end());
        auto family = table_->plan(r.slot).address->family();
        auto decoded = icmp::DecodeRequest(family, r.icmp);
        EXPECT_TRUE(decoded);
        if (decoded) r.cookie = decoded->cookie;
        sent_.push_back(std::move(r));
        tags.push_back(b.tag(i));
      }
      if (fail_with_ != 0) {
        for (uint64_t tag : tags) table_->OnSendFailed(tag, fail_with_);
      } else if (!tags.empty()) {
        table_->OnSent(tags, send_ns_, send_ns_ + send_span_.count());
      }
      b.Clear();
    }
    fail_with_ = 0;
  }

  std::ostringstream logs_;
  Logger log_;
  PoolCounters counters_;
  std::vector<metrics::TargetEntry> entries_;
  std::unique_ptr<TargetTable> table_;
  uint32_t v4_ = 0, v6_ = 0;
  std::vector<icmp::SendBatch> batches_;
  Outbox outbox_;
  std::vector<Request> sent_;
  int64_t send_ns_ = 0;
  Duration send_span_{};
  int fail_with_ = 0;
};

TEST(TargetTableTest, RequestsCarryTheCookieAndLeaveOnTheirSchedule) {
  Harness h({"198.18.0.1"}, Options(2));
  EXPECT_EQ(h.Run(milliseconds(0)), 1u);
  ASSERT_EQ(h.sent().size(), 1u);
  const Request first = h.sent()[0];
  EXPECT_EQ(first.slot, 0u);
  EXPECT_EQ(first.cookie.worker, kWorker);
  EXPECT_EQ(first.cookie.token, kToken);
  EXPECT_EQ(first.cookie.sequence, first.sequence);
  EXPECT_EQ(first.cookie.send_time_ns, Nanos(milliseconds(0)));
  // The second request is due a spacing later, not before.
  ASSERT_TRUE(h.table().NextDue());
  EXPECT_EQ(*h.table().NextDue(), kT0 + milliseconds(10));
  h.Run(milliseconds(9));
  EXPECT_EQ(h.sent().size(), 1u);
  h.Run(milliseconds(10));
  ASSERT_EQ(h.sent().size(), 2u);
  EXPECT_EQ(h.sent()[1].sequence, static_cast<uint16_t>(first.sequence + 1));
}

TEST(TargetTableTest, ValidRepliesCountWithKernelRttAndArePublished) {
  Harness h({"198.18.0.1"}, Options(2));
  h.Run(milliseconds(0));
  h.Run(milliseconds(10));
  ASSERT_EQ(h.sent().size(), 2u);
  // RTT = kernel receive stamp - the time the request really left (OnSent),
  // whenever the reply is read.
  h.Deliver(ReplyTo(h.sent()[0], IpFamily::kV4, 61), "198.18.0.1", milliseconds(3),
            milliseconds(12));
  EXPECT_FALSE(h.Snapshot(0).has_round);
  h.Deliver(ReplyTo(h.sent()[1], IpFamily::kV4, 59), "198.18.0.1", milliseconds(15));
  // Every reply in: the round is over before its timeout.
  metrics::TargetSnapshot s = h.Snapshot(0);
  ASSERT_TRUE(s.has_round);
  EXPECT_EQ(s.round_sent, 2u);
  EXPECT_EQ(s.round_received, 2u);
  EXPECT_EQ(s.sent_total, 2u);
  EXPECT_EQ(s.received_total, 2u);
  const double rtt1 = 0.003 - 50e-6, rtt2 = 0.005 - 50e-6;
  EXPECT_NEAR(s.rtt_min, rtt1, 1e-9);
  EXPECT_NEAR(s.rtt_max, rtt2, 1e-9);
  EXPECT_NEAR(s.rtt_avg, (rtt1 + rtt2) / 2, 1e-9);
  EXPECT_NEAR(s.rtt_stddev, (rtt2 - rtt1) / 2, 1e-9);
  EXPECT_EQ(s.rtt_count, 2u);
  EXPECT_EQ(s.reply_ttl, 59);
  EXPECT_DOUBLE_EQ(s.last_round_time,
                   static_cast<double>(Nanos(milliseconds(15)) + kWallOffsetNs) / 1e9);
  EXPECT_EQ(s.duplicates + s.late + s.invalid, 0u);
  EXPECT_EQ(h.counters().rounds_completed.load(), 1u);
}

TEST(TargetTableTest, EveryCountedReplyIsLoggedAtDebugLevel) {
  // bench/accuracy.py and the delay test match these lines with the wire.
  Harness h({"198.18.0.1"}, Options(1), icmp::SocketKind::kRaw, false, {}, LogLevel::kDebug);
  h.Run(milliseconds(0));
  const Request req = h.Last(0);
  h.Deliver(ReplyTo(req, IpFamily::kV4), "198.18.0.1", milliseconds(2));
  h.Deliver(ReplyTo(req, IpFamily::kV4), "198.18.0.1", milliseconds(3));  // a duplicate
  const std::string line =
      "msg=reply target=198.18.0.1 address=198.18.0.1 seq=" + std::to_string(req.sequence) +
      " rtt_ns=" + std::to_string((milliseconds(2) - kSendDelay).count()) + "\n";
  EXPECT_NE(h.logs().find(line), std::string::npos) << h.logs();
  EXPECT_EQ(h.logs().find("msg=reply"), h.logs().rfind("msg=reply")) << "only counted replies";
}

TEST(TargetTableTest, StateChangesAreLoggedAtMostEveryTenSeconds) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Round(seconds(0), {true});  // unknown -> up: nothing to say
  EXPECT_EQ(h.logs(), "");
  h.Round(seconds(1), {false});
  EXPECT_EQ(h.CountLogs("target down"), 1u) << h.logs();
  EXPECT_TRUE(h.Logged("from=alive to=no_response suppressed_changes=0")) << h.logs();
  h.Round(seconds(2), {true});  // within 10 s of the last line: folded
  h.Round(seconds(3), {false});
  EXPECT_EQ(h.CountLogs("target "), 1u) << h.logs();
  h.Round(seconds(12), {true});
  EXPECT_EQ(h.CountLogs("target up"), 1u) << h.logs();
  EXPECT_TRUE(h.Logged("from=no_response to=alive suppressed_changes=2")) << h.logs();
}

TEST(TargetTableTest, TargetThatStartsDownIsLoggedOnce) {
  Harness h({"198.18.0.1"}, Options(1));
  for (int s = 0; s < 30; ++s) h.Round(seconds(s), {false});
  EXPECT_EQ(h.CountLogs("target "), 1u) << h.logs();
  EXPECT_TRUE(h.Logged(StateLine("down", "198.18.0.1", "unknown", "no_response", 0))) << h.logs();
}

// A flapping host must not end with "down" logged and its final "up" folded
// away: when the window closes the state it ended in gets its line.
TEST(TargetTableTest, FoldedChangesEndWithTheLatestState) {
  Harness h({"198.18.0.1", "198.18.0.2"}, Options(1));
  h.Round(seconds(0), {true, true});
  h.Round(seconds(1), {false, false});  // both logged down
  h.Round(seconds(2), {true, true});    // folded
  h.Round(seconds(3), {false, false});  // folded
  h.Round(seconds(4), {true, false});   // folded for the first; the second stays down
  for (int s = 5; s < 11; ++s) h.Round(seconds(s), {true, false});
  EXPECT_EQ(h.CountLogs("target "), 2u) << "window still open\n" << h.logs();
  // The windows close 10 s after the lines (at 11.101 s): the next round ends
  // after that for both (one ends at its reply, the other at its timeout).
  h.Round(seconds(11), {true, false});
  h.Round(seconds(12), {true, false});
  EXPECT_EQ(h.CountLogs("target "), 4u) << h.logs();
  EXPECT_TRUE(h.Logged(StateLine("up", "198.18.0.1", "no_response", "alive", 3))) << h.logs();
  // Down, up, down: the line says where it ended, and that two changes were folded.
  EXPECT_TRUE(h.Logged(StateLine("down", "198.18.0.2", "no_response", "no_response", 2)))
      << h.logs();
  for (int s = 12; s < 40; ++s) h.Round(seconds(s), {true, false});
  EXPECT_EQ(h.CountLogs("target "), 4u) << "nothing more to say\n" << h.logs();
}

// A reload builds new tables over the same entries: states that did not
// change are not logged again, and changes folded before it still get a line.
TEST(TargetTableTest, ReloadDoesNotRelogUnchangedStates) {
  const std::vector<std::string> hosts = {"198.18.0.1", "198.18.0.2", "198.18.0.3"};
  std::vector<metrics::TargetEntry> entries;
  {
    Harness before(hosts, Options(1));
    before.Round(seconds(0), {true, false, true});
    before.Round(seconds(1), {true, false, false});
    before.Round(seconds(2), {true, false, true});  // folded, still pending at the reload
    EXPECT_EQ(before.CountLogs("target down"), 2u) << before.logs();
    entries = before.entries();
  }
  Harness after(hosts, Options(1), icmp::SocketKind::kRaw, false, entries);
  after.Round(seconds(3), {true, false, true});
  EXPECT_EQ(after.logs(), "");
  after.Round(seconds(12), {true, true, true});
  EXPECT_EQ(after.CountLogs("target up"), 2u) << after.logs();
  EXPECT_TRUE(after.Logged(StateLine("up", "198.18.0.2", "no_response", "alive", 0)))
      << after.logs();
  EXPECT_TRUE(after.Logged(StateLine("up", "198.18.0.3", "no_response", "alive", 1)))
      << after.logs();
}

TEST(TargetTableTest, V6ReplyCounted) {
  Harness h({"2001:2::5"}, Options(1));
  h.Run(milliseconds(0));
  ASSERT_EQ(h.sent().size(), 1u);
  EXPECT_EQ(h.sent()[0].icmp[0], 128);
  h.Deliver(ReplyTo(h.sent()[0], IpFamily::kV6), "2001:2::5", milliseconds(2));
  metrics::TargetSnapshot s = h.Snapshot(0);
  ASSERT_TRUE(s.has_round);
  EXPECT_EQ(s.round_received, 1u);
  EXPECT_NEAR(s.rtt_avg, 0.002 - 50e-6, 1e-9);
}

TEST(TargetTableTest, SpoofedSourceIsInvalidOnTheTargetItClaims) {
  Harness h({"198.18.0.1", "198.18.0.2"}, Options(1));
  h.Run(milliseconds(0));
  // A valid cookie for target 0, from target 1's address.
  h.Deliver(ReplyTo(h.Last(0), IpFamily::kV4), "198.18.0.2", milliseconds(2));
  EXPECT_EQ(h.Snapshot(0).invalid, 1u);
  EXPECT_EQ(h.Snapshot(1).invalid, 0u);
  h.Run(milliseconds(101));  // after the deadline
  ASSERT_TRUE(h.Snapshot(0).has_round);
  EXPECT_EQ(h.Snapshot(0).round_received, 0u);
}

TEST(TargetTableTest, ForeignTokenOrWorkerIsNotCountedForUs) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  const Request& req = h.Last(0);
  icmp::Cookie other_process = req.cookie;
  other_process.token ^= 1;
  icmp::Cookie other_worker = req.cookie;
  other_worker.worker = kWorker + 1;
  // From nobody we probe: unmatched.
  h.Deliver(ReplyTo(Reencoded(req, other_process), IpFamily::kV4), "198.18.0.200", milliseconds(1));
  EXPECT_EQ(h.counters().unmatched_replies.load(), 1u);
  // From our target: blamed on it as invalid, never counted as its reply.
  h.Deliver(ReplyTo(Reencoded(req, other_worker), IpFamily::kV4), "198.18.0.1", milliseconds(2));
  EXPECT_EQ(h.counters().unmatched_replies.load(), 1u);
  EXPECT_EQ(h.Snapshot(0).invalid, 1u);
  h.Run(milliseconds(101));
  EXPECT_EQ(h.Snapshot(0).round_received, 0u);
}

TEST(TargetTableTest, ReplayAfterSequenceWrapIsInvalid) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  const Request& req = h.Last(0);
  // Same slot and sequence, but the send time of a request 65 536 sequences ago.
  icmp::Cookie old = req.cookie;
  old.send_time_ns -= Duration(seconds(65536)).count();
  h.Deliver(ReplyTo(Reencoded(req, old), IpFamily::kV4), "198.18.0.1", milliseconds(2));
  EXPECT_EQ(h.Snapshot(0).invalid, 1u);
  // The real reply still counts.
  h.Deliver(ReplyTo(req, IpFamily::kV4), "198.18.0.1", milliseconds(3));
  EXPECT_EQ(h.Snapshot(0).round_received, 1u);
  EXPECT_EQ(h.Snapshot(0).invalid, 1u);
}

TEST(TargetTableTest, SecondReplyIsDuplicate) {
  Harness h({"198.18.0.1"}, Options(2));
  h.Run(milliseconds(0));
  h.Deliver(ReplyTo(h.Last(0), IpFamily::kV4), "198.18.0.1", milliseconds(2));
  h.Deliver(ReplyTo(h.Last(0), IpFamily::kV4), "198.18.0.1", milliseconds(3));
  EXPECT_EQ(h.Snapshot(0).duplicates, 1u);
  EXPECT_EQ(h.Snapshot(0).invalid, 0u);
  h.Run(milliseconds(10));
  h.Run(milliseconds(111));
  metrics::TargetSnapshot s = h.Snapshot(0);
  EXPECT_EQ(s.round_received, 1u);
  EXPECT_EQ(s.received_total, 1u);
}

TEST(TargetTableTest, ReplyAfterTheDeadlineIsLate) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  Request first = h.Last(0);
  // Deadline = when the request left + timeout; the tick just after ends the round.
  h.Run(milliseconds(100) + kSendDelay);
  ASSERT_TRUE(h.Snapshot(0).has_round);
  EXPECT_EQ(h.Snapshot(0).round_received, 0u);
  h.Deliver(ReplyTo(first, IpFamily::kV4), "198.18.0.1", milliseconds(150));
  EXPECT_EQ(h.Snapshot(0).late, 1u);
  // Still late while the next round runs; a second copy is a duplicate.
  h.Run(milliseconds(1000));
  EXPECT_EQ(h.sent().size(), 2u);
  h.Deliver(ReplyTo(first, IpFamily::kV4), "198.18.0.1", milliseconds(1001));
  metrics::TargetSnapshot s = h.Snapshot(0);
  EXPECT_EQ(s.late, 1u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.received_total, 0u);
}

TEST(TargetTableTest, ReplyAfterTheDeadlineIsLateBeforeTheDeadlineTickRuns) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  // No Run() at the deadline: the reply's own receive time decides.
  h.Deliver(ReplyTo(h.Last(0), IpFamily::kV4), "198.18.0.1",
            milliseconds(100) + kSendDelay + microseconds(1));
  metrics::TargetSnapshot s = h.Snapshot(0);
  ASSERT_TRUE(s.has_round);
  EXPECT_EQ(s.round_received, 0u);
  EXPECT_EQ(s.late, 1u);
  // A reply just inside the timeout counts.
  Harness in_time({"198.18.0.1"}, Options(1));
  in_time.Run(milliseconds(0));
  in_time.Deliver(ReplyTo(in_time.Last(0), IpFamily::kV4), "198.18.0.1",
                  milliseconds(100) + kSendDelay, milliseconds(105));
  EXPECT_EQ(in_time.Snapshot(0).round_received, 1u);
  EXPECT_EQ(in_time.Snapshot(0).late, 0u);
}

TEST(TargetTableTest, BusyWorkerWakesOnlyOnItsPhaseGrid) {
  std::vector<std::string> hosts;
  for (int i = 1; i <= 100; ++i) hosts.push_back("198.18.0." + std::to_string(i));
  Harness h(hosts, Options(1));
  // 100 rounds a second: a 100 ms grid (PhaseGrid), ten rounds a step.
  ASSERT_TRUE(h.table().coalesced());
  // Round starts and deadlines alike fall on grid steps, so a step's sends,
  // deadlines and replies share one wake-up.
  for (int i = 0; i < 60; ++i) {
    std::optional<TimePoint> next = h.table().NextDue();
    ASSERT_TRUE(next);
    ASSERT_EQ((*next - kT0) % milliseconds(100), Duration::zero()) << "step " << i;
    h.Run(*next - kT0);
  }
  EXPECT_GE(h.sent().size(), 200u);  // three seconds' worth of rounds ran
  // A lone target keeps exact deadlines: its wake-ups are few anyway.
  Harness lone({"198.18.0.1"}, Options(1));
  EXPECT_FALSE(lone.table().coalesced());
}

TEST(TargetTableTest, WithoutKernelStampsABatchsRequestsShareItsSendSpan) {
  Harness h({"198.18.0.1"}, Options(3, Duration::zero()));
  h.SetSendSpan(microseconds(300));
  h.Run(milliseconds(0));
  ASSERT_EQ(h.sent().size(), 3u);
  for (const Request& r : h.sent()) {
    h.Deliver(ReplyTo(r, IpFamily::kV4), "198.18.0.1", milliseconds(1));
  }
  // Sent at kSendDelay + 0, 100, 200 us: the last one's RTT is not charged
  // for the time the first two took.
  metrics::TargetSnapshot s = h.Snapshot(0);
  ASSERT_EQ(s.round_received, 3u);
  EXPECT_NEAR(s.rtt_max, 1e-3 - 50e-6, 1e-9);
  EXPECT_NEAR(s.rtt_min, 1e-3 - 250e-6, 1e-9);
}

TEST(TargetTableTest, KernelSendStampSetsTheRttAndTheDeadline) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  const Request req = h.Last(0);
  // The batch's clock said kSendDelay; the kernel stamped the packet 30 us later.
  const Duration stamp = kSendDelay + microseconds(30);
  h.table().OnSentAt(req.tag, Nanos(stamp));
  // The timeout counts from the stamp: a reply after the batch time's
  // deadline but inside the stamp's still counts, with RTT = receive - stamp.
  const Duration received = stamp + milliseconds(100) - microseconds(5);
  h.Deliver(ReplyTo(req, IpFamily::kV4), "198.18.0.1", received);
  metrics::TargetSnapshot s = h.Snapshot(0);
  ASSERT_EQ(s.round_received, 1u);
  EXPECT_NEAR(s.rtt_max, std::chrono::duration<double>(received - stamp).count(), 1e-9);
  // A stamp that turns up after its round is over changes nothing.
  h.table().OnSentAt(req.tag, Nanos(milliseconds(1)));
  EXPECT_EQ(h.Snapshot(0).rtt_sum, s.rtt_sum);
}

TEST(TargetTableTest, ReplyRoundsAfterItsTimeoutIsLateNotInvalid) {
  Harness h({"198.18.0.1"}, Options(1));  // 1 s interval, 100 ms timeout
  h.Run(milliseconds(0));
  const Request first = h.Last(0);
  h.Run(milliseconds(101));
  for (int s = 1; s <= 3; ++s) {
    h.Run(seconds(s));
    h.Run(seconds(s) + milliseconds(101));
  }
  // 3.2 s after it left, three rounds on (seconds of bufferbloat): late.
  h.Deliver(ReplyTo(first, IpFamily::kV4), "198.18.0.1", milliseconds(3200));
  metrics::TargetSnapshot s = h.Snapshot(0);
  EXPECT_EQ(s.late, 1u);
  EXPECT_EQ(s.invalid, 0u);
  EXPECT_EQ(s.received_total, 0u);
  // A reply whose cookie claims a time the history cannot reach back to is
  // not ours, even with a sequence the history knows.
  icmp::Cookie ancient = h.Last(0).cookie;
  ancient.send_time_ns -= Duration(seconds(600)).count();
  h.Deliver(ReplyTo(Reencoded(h.Last(0), ancient), IpFamily::kV4), "198.18.0.1",
            milliseconds(3300));
  EXPECT_EQ(h.Snapshot(0).invalid, 1u);
}

TEST(TargetTableTest, RepliesOutOfSequenceOrderAreCounted) {
  Harness h({"198.18.0.1"}, Options(2, milliseconds(10)));
  h.Run(milliseconds(0));
  h.Run(milliseconds(10));
  ASSERT_EQ(h.sent().size(), 2u);
  // The second request's reply overtakes the first's.
  h.Deliver(ReplyTo(h.sent()[1], IpFamily::kV4), "198.18.0.1", milliseconds(12));
  h.Deliver(ReplyTo(h.sent()[0], IpFamily::kV4), "198.18.0.1", milliseconds(13));
  metrics::TargetSnapshot s = h.Snapshot(0);
  EXPECT_EQ(s.round_received, 2u);
  EXPECT_EQ(s.out_of_order, 1u);
  // In order again: not counted; a duplicate is not a reordering either.
  h.Run(seconds(1));
  h.Run(seconds(1) + milliseconds(10));
  ASSERT_EQ(h.sent().size(), 4u);
  h.Deliver(ReplyTo(h.sent()[2], IpFamily::kV4), "198.18.0.1", milliseconds(1012));
  h.Deliver(ReplyTo(h.sent()[2], IpFamily::kV4), "198.18.0.1", milliseconds(1012));
  h.Deliver(ReplyTo(h.sent()[3], IpFamily::kV4), "198.18.0.1", milliseconds(1013));
  EXPECT_EQ(h.Snapshot(0).out_of_order, 1u);
}

TEST(TargetTableTest, JitterFollowsRfc3550FromTheSecondReply) {
  Harness h({"198.18.0.1"}, Options(1));
  const Duration rtts[] = {milliseconds(1), milliseconds(3), milliseconds(2)};
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    h.Run(seconds(i));
    h.Deliver(ReplyTo(h.Last(0), IpFamily::kV4), "198.18.0.1", seconds(i) + kSendDelay + rtts[i]);
    metrics::TargetSnapshot s = h.Snapshot(0);
    ASSERT_EQ(s.received_total, static_cast<uint64_t>(i + 1));
    if (i == 0) {
      EXPECT_EQ(s.jitter, -1) << "one reply has no jitter yet";
      continue;
    }
    double d = std::abs(std::chrono::duration<double>(rtts[i] - rtts[i - 1]).count());
    expected += (d - expected) / 16;
    EXPECT_NEAR(s.jitter, expected, 1e-9) << "after reply " << i;
  }
}

TEST(TargetTableTest, CorruptPayloadIsInvalid) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  Request corrupt = h.Last(0);
  corrupt.icmp[icmp::kIcmpHeaderSize + icmp::kCookieSize + 3] ^= 0x10;  // after the cookie
  h.Deliver(ReplyTo(corrupt, IpFamily::kV4), "198.18.0.1", milliseconds(2));
  EXPECT_EQ(h.Snapshot(0).invalid, 1u);
  // A broken checksum does not parse: blamed on the host it came from.
  std::vector<uint8_t> bad = ReplyTo(h.Last(0), IpFamily::kV4);
  bad.back() ^= 0xFF;
  h.Deliver(bad, "198.18.0.1", milliseconds(3));
  EXPECT_EQ(h.Snapshot(0).invalid, 2u);
  h.Run(milliseconds(101));
  EXPECT_EQ(h.Snapshot(0).round_received, 0u);
}

TEST(TargetTableTest, WrongEchoIdIsIgnored) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  const Request& req = h.Last(0);
  h.Deliver(ReplyTo(Reencoded(req, req.cookie, kEchoId + 1), IpFamily::kV4), "198.18.0.1",
            milliseconds(2));
  metrics::TargetSnapshot s = h.Snapshot(0);
  EXPECT_EQ(s.invalid + s.duplicates + s.late + s.received_total, 0u);
  EXPECT_EQ(h.counters().unmatched_replies.load(), 0u);
  // The real reply still counts afterwards.
  h.Deliver(ReplyTo(req, IpFamily::kV4), "198.18.0.1", milliseconds(3));
  EXPECT_EQ(h.Snapshot(0).round_received, 1u);
}

TEST(TargetTableTest, IcmpErrorWithFullQuoteIsASendErrorByReason) {
  Harness h({"198.18.0.1", "198.18.0.2"}, Options(1));
  IpAddress first = *IpAddress::Parse("198.18.0.1");
  IpAddress second = *IpAddress::Parse("198.18.0.2");
  h.Run(milliseconds(0));
  h.Deliver(ErrorAbout(h.Last(0), first, 3, 1), "198.18.0.254", milliseconds(1));
  h.Deliver(ErrorAbout(h.Last(1), second, 11, 0), "198.18.0.254", milliseconds(1));
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kHostUnreachable), 1u);
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kTtlExceeded), 0u);
  EXPECT_EQ(SendErrors(h.Snapshot(1), SendError::kTtlExceeded), 1u);
  // A quote whose destination is not the target the cookie names is not ours to count.
  h.Deliver(ErrorAbout(h.Last(0), second, 3, 13), "198.18.0.254", milliseconds(2));
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kProhibited), 0u);
  EXPECT_EQ(SendErrors(h.Snapshot(1), SendError::kProhibited), 0u);
  // Errors are never replies.
  h.Run(milliseconds(101));
  EXPECT_EQ(h.Snapshot(0).round_received, 0u);
  EXPECT_EQ(h.Snapshot(0).invalid, 0u);
}

TEST(TargetTableTest, EightByteQuoteMatchesDestinationIdAndASentSequence) {
  Harness h({"198.18.0.1"}, Options(1));
  IpAddress target = *IpAddress::Parse("198.18.0.1");
  h.Run(milliseconds(0));
  const Request& req = h.Last(0);
  // A sequence this target never sent.
  Request unsent = req;
  unsent.icmp[7] = static_cast<uint8_t>(unsent.icmp[7] + 5);
  h.Deliver(ErrorAbout(unsent, target, 3, 0, icmp::kIcmpHeaderSize), "198.18.0.254",
            milliseconds(1));
  // Another pinger's id.
  Request other_id = req;
  other_id.icmp[5] = static_cast<uint8_t>(other_id.icmp[5] + 1);
  h.Deliver(ErrorAbout(other_id, target, 3, 0, icmp::kIcmpHeaderSize), "198.18.0.254",
            milliseconds(1));
  // A destination we do not probe.
  h.Deliver(ErrorAbout(req, *IpAddress::Parse("198.18.0.77"), 3, 0, icmp::kIcmpHeaderSize),
            "198.18.0.254", milliseconds(1));
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kNetworkUnreachable), 0u);
  h.Deliver(ErrorAbout(req, target, 3, 0, icmp::kIcmpHeaderSize), "198.18.0.254", milliseconds(1));
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kNetworkUnreachable), 1u);
}

TEST(TargetTableTest, ErrorAboutAFailedSendIsNotCountedTwice) {
  Harness h({"198.18.0.1"}, Options(1));
  IpAddress target = *IpAddress::Parse("198.18.0.1");
  h.FailSends(EHOSTUNREACH);
  h.Run(milliseconds(0));
  ASSERT_EQ(h.sent().size(), 1u);
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kHostUnreachable), 1u);
  // The reject that failed the send also came back as an ICMP error...
  h.Deliver(ErrorAbout(h.Last(0), target, 3, 1), "198.18.0.254", milliseconds(1));
  // ... and through the error queue.
  icmp::QueuedError e;
  e.request = h.Last(0).icmp;
  e.destination = target;
  e.error = EHOSTUNREACH;
  h.DeliverQueued(e, IpFamily::kV4);
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kHostUnreachable), 1u);
  h.Run(milliseconds(101));
  metrics::TargetSnapshot s = h.Snapshot(0);
  EXPECT_EQ(s.round_sent, 1u);
  EXPECT_EQ(s.round_received, 0u);
}

TEST(TargetTableTest, DatagramErrorQueueEntriesAreSendErrors) {
  Harness h({"198.18.0.1", "198.18.0.2", "198.18.0.3"}, Options(1), icmp::SocketKind::kDatagram);
  h.Run(milliseconds(0));
  // An ICMP error with our whole request attached: the cookie names the target.
  icmp::QueuedError from_icmp;
  from_icmp.request = h.Last(0).icmp;
  from_icmp.destination = IpAddress::Parse("198.18.0.1");
  from_icmp.from_icmp = true;
  from_icmp.type = 3;
  from_icmp.code = 0;
  from_icmp.error = ENETUNREACH;
  h.DeliverQueued(from_icmp, IpFamily::kV4);
  // A local error about another target's request.
  icmp::QueuedError local;
  local.request = h.Last(1).icmp;
  local.destination = IpAddress::Parse("198.18.0.2");
  local.error = ENOBUFS;
  h.DeliverQueued(local, IpFamily::kV4);
  // An 8-byte quote: matched by destination and a sequence sent there.
  std::vector<uint8_t> eight(h.Last(2).icmp.begin(),
                             h.Last(2).icmp.begin() + icmp::kIcmpHeaderSize);
  icmp::QueuedError short_quote = from_icmp;
  short_quote.request = eight;
  short_quote.destination = IpAddress::Parse("198.18.0.3");
  short_quote.type = 11;
  h.DeliverQueued(short_quote, IpFamily::kV4);
  short_quote.destination = IpAddress::Parse("198.18.0.9");  // nobody we probe
  h.DeliverQueued(short_quote, IpFamily::kV4);
  // Another process's request (foreign token).
  icmp::QueuedError foreign = from_icmp;
  Request other = Reencoded(h.Last(0), [&] {
    icmp::Cookie c = h.Last(0).cookie;
    c.token ^= 1;
    return c;
  }());
  foreign.request = other.icmp;
  h.DeliverQueued(foreign, IpFamily::kV4);
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kNetworkUnreachable), 1u);
  EXPECT_EQ(SendErrors(h.Snapshot(1), SendError::kNoBuffer), 1u);
  EXPECT_EQ(SendErrors(h.Snapshot(2), SendError::kTtlExceeded), 1u);
  uint64_t total = 0;
  for (uint32_t slot = 0; slot < 3; ++slot) {
    for (uint64_t n : h.Snapshot(slot).send_errors) total += n;
  }
  EXPECT_EQ(total, 3u);
}

TEST(TargetTableTest, RawSocketsCountOnlyLocalErrorsFromTheQueue) {
  Harness h({"198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  icmp::QueuedError e;
  e.request = h.Last(0).icmp;
  e.destination = IpAddress::Parse("198.18.0.1");
  e.from_icmp = true;  // read as a message on raw sockets: counted there, not here
  e.type = 3;
  e.code = 1;
  h.DeliverQueued(e, IpFamily::kV4);
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kHostUnreachable), 0u);
  e.from_icmp = false;
  e.error = ENOBUFS;
  h.DeliverQueued(e, IpFamily::kV4);
  EXPECT_EQ(SendErrors(h.Snapshot(0), SendError::kNoBuffer), 1u);
}

TEST(TargetTableTest, UnresolvedTargetLosesItsRoundsAndNeverOwnsAReply) {
  Harness h({"", "198.18.0.1"}, Options(1));
  h.Run(milliseconds(0));
  metrics::TargetSnapshot s = h.Snapshot(0);
  ASSERT_TRUE(s.has_round);
  EXPECT_EQ(s.round_sent, 0u);
  EXPECT_EQ(SendErrors(s, SendError::kResolve), 1u);
  // A reply whose cookie names the unresolved slot.
  icmp::Cookie forged = h.Last(1).cookie;
  forged.slot = 0;
  Request fake = Reencoded(h.Last(1), forged);
  h.Deliver(ReplyTo(fake, IpFamily::kV4), "198.18.0.99", milliseconds(2));
  EXPECT_EQ(h.counters().unmatched_replies.load(), 1u);
  h.Deliver(ReplyTo(fake, IpFamily::kV4), "198.18.0.1", milliseconds(3));
  EXPECT_EQ(h.Snapshot(1).invalid, 1u);
  EXPECT_EQ(h.Snapshot(0).received_total + h.Snapshot(0).invalid, 0u);
  EXPECT_EQ(h.counters().rounds_completed.load(), 1u);
}

TEST(TargetTableTest, OneShotFinishesWhenEveryRoundIsOver) {
  Harness h({"198.18.0.1", "198.18.0.2"}, Options(1), icmp::SocketKind::kRaw, true);
  EXPECT_FALSE(h.table().finished());
  h.Run(milliseconds(0));  // one-shot rounds start at Start(), not at their phase
  ASSERT_EQ(h.sent().size(), 2u);
  h.Deliver(ReplyTo(h.Last(0), IpFamily::kV4), "198.18.0.1", milliseconds(1));
  EXPECT_FALSE(h.table().finished());
  h.Run(milliseconds(100) + kSendDelay);
  EXPECT_TRUE(h.table().finished());
  EXPECT_FALSE(h.table().NextDue());
  EXPECT_EQ(h.counters().rounds_completed.load(), 2u);
  EXPECT_EQ(h.Snapshot(0).round_received, 1u);
  EXPECT_EQ(h.Snapshot(1).round_received, 0u);
  // Nothing more is sent.
  h.Run(seconds(5));
  EXPECT_EQ(h.sent().size(), 2u);
  EXPECT_EQ(h.logs().find("target"), std::string::npos) << "one-shot rounds log no changes";
}

TEST(TargetTableTest, FullBatchIsFlushedMidPass) {
  // Batches hold 4 requests; 10 targets due at once leave in three flushes.
  std::vector<std::string> hosts;
  for (int i = 1; i <= 10; ++i) hosts.push_back("198.18.1." + std::to_string(i));
  Harness h(hosts, Options(1));
  EXPECT_EQ(h.Run(milliseconds(0)), 10u);
  ASSERT_EQ(h.sent().size(), 10u);
  for (uint32_t slot = 0; slot < 10; ++slot) {
    h.Deliver(ReplyTo(h.Last(slot), IpFamily::kV4), hosts[slot], milliseconds(1));
    EXPECT_EQ(h.Snapshot(slot).round_received, 1u) << hosts[slot];
  }
}

}  // namespace
}  // namespace ping_exporter::probe
