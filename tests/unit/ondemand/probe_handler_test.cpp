#include "ondemand/probe_handler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

namespace ping_exporter::ondemand {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

http::Request Get(const std::string& query) {
  http::Request r;
  r.method = "GET";
  r.path = "/probe";
  r.query = query;
  r.remote_address = "127.0.0.1";
  return r;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Fake round and resolver that record what they were asked; nothing is pinged.
struct Fakes {
  std::mutex mu;
  std::vector<RoundRequest> rounds;      // guarded by mu
  std::vector<std::string> resolutions;  // guarded by mu
  uint32_t received = 2;                 // replies the fake round reports
  std::string round_error;               // non-empty: the round fails to start
  std::string resolves_to = "127.0.0.1";

  RoundRunner Runner() {
    return [this](const RoundRequest& r) -> Expected<metrics::TargetSnapshot, std::string> {
      std::lock_guard<std::mutex> lock(mu);
      rounds.push_back(r);
      if (!round_error.empty()) return MakeUnexpected(round_error);
      metrics::TargetSnapshot s;
      s.has_round = true;
      s.round_sent = r.options.count;
      s.round_received = std::min(received, r.options.count);
      s.rtt_min = 0.001;
      s.rtt_avg = 0.002;
      s.rtt_max = 0.003;
      s.rtt_stddev = 0.0005;
      s.reply_ttl = s.round_received > 0 ? 64 : -1;
      return s;
    };
  }
  NameResolver Resolver() {
    return [this](const std::string& name, config::Family) -> Expected<IpAddress, std::string> {
      std::lock_guard<std::mutex> lock(mu);
      resolutions.push_back(name);
      if (resolves_to.empty()) return MakeUnexpected(std::string("Name or service not known"));
      return *IpAddress::Parse(resolves_to);
    };
  }
  size_t round_count() {
    std::lock_guard<std::mutex> lock(mu);
    return rounds.size();
  }
  size_t resolve_count() {
    std::lock_guard<std::mutex> lock(mu);
    return resolutions.size();
  }
};

class ProbeHandlerTest : public ::testing::Test {
 protected:
  ProbeEndpointOptions Options(const char* allow = "127.0.0.0/8,::1/128,localhost") {
    ProbeEndpointOptions o;
    o.allow = *AllowList::Parse(allow);
    o.counters = counters;
    o.run_round = fakes.Runner();
    o.resolve = fakes.Resolver();
    return o;
  }
  std::ostringstream logs;
  Logger log{logs, LogLevel::kDebug, LogFormat::kLogfmt};
  std::shared_ptr<ProbeCounters> counters = std::make_shared<ProbeCounters>();
  Fakes fakes;
};

TEST_F(ProbeHandlerTest, AllowedLiteralIsProbedAndRendered) {
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=127.0.0.1&count=3&timeout=250ms"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Contains(r.content_type, "version=0.0.4"));
  EXPECT_TRUE(Contains(r.body, "\nprobe_success 1\n")) << r.body;
  EXPECT_TRUE(Contains(r.body, "# TYPE probe_duration_seconds gauge\nprobe_duration_seconds "));
  const std::string l = "{target=\"127.0.0.1\",address=\"127.0.0.1\"";
  EXPECT_TRUE(Contains(r.body, "ping_up" + l + "} 1\n"));
  EXPECT_TRUE(Contains(r.body, "ping_status" + l + ",status=\"partial\"} 1\n")) << r.body;
  EXPECT_TRUE(Contains(r.body, "ping_status" + l + ",status=\"alive\"} 0\n"));
  EXPECT_TRUE(Contains(r.body, "ping_round_packets_sent" + l + "} 3\n"));
  EXPECT_TRUE(Contains(r.body, "ping_round_packets_received" + l + "} 2\n"));
  EXPECT_TRUE(Contains(r.body, "ping_loss_ratio" + l + "} 0.33333"));
  EXPECT_TRUE(Contains(r.body, "ping_round_rtt_seconds" + l + ",stat=\"avg\"} 0.002\n"));
  EXPECT_TRUE(Contains(r.body, "ping_reply_ttl" + l + "} 64\n"));
  ASSERT_EQ(fakes.round_count(), 1u);
  EXPECT_EQ(fakes.rounds[0].options.count, 3u);
  EXPECT_EQ(fakes.rounds[0].options.timeout, milliseconds(250));
  EXPECT_EQ(fakes.rounds[0].address.ToString(), "127.0.0.1");
  EXPECT_GT(fakes.rounds[0].options.interval, fakes.rounds[0].options.RoundLength());
  EXPECT_EQ(fakes.resolve_count(), 0u) << "literals are not resolved";
  EXPECT_EQ(counters->succeeded.load(), 1u);
  EXPECT_EQ(counters->in_flight.load(), 0u);
}

TEST_F(ProbeHandlerTest, DefaultsApplyWhenQueryHasOnlyTheTarget) {
  http::Handler h = MakeProbeHandler(Options(), log);
  ASSERT_EQ(h(Get("target=%3A%3A1&module=icmp")).status, 200);
  ASSERT_EQ(fakes.round_count(), 1u);
  EXPECT_EQ(fakes.rounds[0].address.ToString(), "::1");
  EXPECT_EQ(fakes.rounds[0].options.count, 2u);
  EXPECT_EQ(fakes.rounds[0].options.timeout, seconds(1));
}

TEST_F(ProbeHandlerTest, NoReplyMeansProbeFailure) {
  fakes.received = 0;
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=127.0.0.1"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Contains(r.body, "\nprobe_success 0\n"));
  EXPECT_TRUE(Contains(r.body, "status=\"no_response\"} 1\n"));
  EXPECT_FALSE(Contains(r.body, "ping_round_rtt_seconds")) << "absent, not NaN, without replies";
  EXPECT_FALSE(Contains(r.body, "ping_reply_ttl"));
  EXPECT_EQ(counters->failed.load(), 1u);
}

TEST_F(ProbeHandlerTest, BadQueriesAre400WithAMessage) {
  http::Handler h = MakeProbeHandler(Options(), log);
  const std::pair<const char*, const char*> cases[] = {
      {"", "missing target"},
      {"count=2", "missing target"},
      {"target=", "missing target"},
      {"target", "missing target"},
      {"target=127.0.0.1&count=0", "count must be"},
      {"target=127.0.0.1&count=11", "count must be"},
      {"target=127.0.0.1&count=x", "count must be"},
      {"target=127.0.0.1&count=2x", "count must be"},
      {"target=127.0.0.1&count=-1", "count must be"},
      {"target=127.0.0.1&count=99999999999999999999", "count must be"},
      {"target=127.0.0.1&timeout=6s", "timeout must be"},
      {"target=127.0.0.1&timeout=0s", "timeout must be"},
      {"target=127.0.0.1&timeout=1", "timeout must be"},
      {"target=127.0.0.1&timeout=-1s", "timeout must be"},
      {"target=127.0.0.1&family=ip5", "family must be"},
      {"target=%zz", "percent-encoding"},
      {"target=127.0.0.1%2", "percent-encoding"},
      {"target=127.0.0.1%", "percent-encoding"},
      {"target=127.0.0.1&target=::1", "more than once"},
      {"target=127.0.0.1&count=1&count=2", "more than once"},
      {"target=a+b", "IP address or a host name"},
      {"target=127.0.0.1:80", "IP address or a host name"},
      {"target=%00", "IP address or a host name"},
      {"target=%3Cscript%3E", "IP address or a host name"},
      // Nothing rides along after a NUL, and no control byte or invalid UTF-8 gets through.
      {"target=127.0.0.2%00%FF",
       "target must be an IP address or a host name, not \"127.0.0.2\\x00\\xff\" (NUL byte at "
       "offset 9)"},
      {"target=localhost%00", "(NUL byte at offset 9)"},
      {"target=127.0.0.2%FF", "(invalid UTF-8 at offset 9)"},
      {"target=localhost%0A", "(control character \\x0a at offset 9)"},
      {"target=%C2%85localhost", "(control character \\xc2\\x85 at offset 0)"},
      {"target=127.0.0.1&family=ip6", "family=ip6"},
      {"target=::1&family=ip4", "family=ip4"},
  };
  for (const auto& [query, message] : cases) {
    http::Response r = h(Get(query));
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_TRUE(Contains(r.body, message)) << query << " -> " << r.body;
    // Client text is echoed only in printable form.
    for (char c : r.body) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7F)) << query;
  }
  EXPECT_EQ(fakes.round_count(), 0u);
  EXPECT_EQ(fakes.resolve_count(), 0u);
  EXPECT_EQ(counters->invalid.load(), std::size(cases));
}

TEST_F(ProbeHandlerTest, RefusedLiteralIsNeverPinged) {
  http::Handler h = MakeProbeHandler(Options(), log);
  for (const char* target : {"198.18.0.9", "2001:2::9", "::ffff:127.0.0.1", "0.0.0.0", "::"}) {
    http::Response r = h(Get(std::string("target=") + target));
    EXPECT_EQ(r.status, 403) << target;
    EXPECT_TRUE(Contains(r.body, "not allowed")) << r.body;
  }
  EXPECT_EQ(fakes.round_count(), 0u);
  EXPECT_EQ(fakes.resolve_count(), 0u);
  EXPECT_EQ(counters->refused.load(), 5u);
  EXPECT_EQ(counters->in_flight.load(), 0u);
}

TEST_F(ProbeHandlerTest, UnlistedNameIsNotEvenResolved) {
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=elsewhere.invalid"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(fakes.resolve_count(), 0u);
  EXPECT_EQ(fakes.round_count(), 0u);
  EXPECT_EQ(counters->refused.load(), 1u);
}

TEST_F(ProbeHandlerTest, ListedNameMustAlsoResolveIntoAnAllowedNetwork) {
  fakes.resolves_to = "198.18.0.9";
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=localhost"));
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(Contains(r.body, "resolves to 198.18.0.9")) << r.body;
  EXPECT_EQ(fakes.resolve_count(), 1u);
  EXPECT_EQ(fakes.round_count(), 0u);
  EXPECT_EQ(counters->refused.load(), 1u);
}

TEST_F(ProbeHandlerTest, ListedNameInsideTheNetworksIsProbed) {
  fakes.resolves_to = "::1";
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=LOCALHOST&family=ip6"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Contains(r.body, "ping_up{target=\"LOCALHOST\",address=\"::1\"} 1\n")) << r.body;
  EXPECT_EQ(fakes.round_count(), 1u);
}

TEST_F(ProbeHandlerTest, UnresolvableNameIsAFailedProbeNotAnError) {
  fakes.resolves_to = "";
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=localhost"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Contains(r.body, "\nprobe_success 0\n")) << r.body;
  EXPECT_TRUE(Contains(r.body, "# cannot resolve localhost")) << r.body;
  EXPECT_FALSE(Contains(r.body, "ping_up"));
  EXPECT_EQ(fakes.round_count(), 0u);
  EXPECT_EQ(counters->failed.load(), 1u);
}

TEST_F(ProbeHandlerTest, SlowResolverIsCutOffByTheTimeout) {
  ProbeEndpointOptions o = Options();
  o.resolve_timeout = milliseconds(200);
  // The resolver hangs until the test releases it (after the handler gave up).
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> resolver_done = finished->get_future();
  o.resolve = [released, finished](const std::string&,
                                   config::Family) -> Expected<IpAddress, std::string> {
    released.wait();
    finished->set_value();
    return *IpAddress::Parse("127.0.0.1");
  };
  http::Handler h = MakeProbeHandler(std::move(o), log);
  auto start = std::chrono::steady_clock::now();
  http::Response r = h(Get("target=localhost"));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(Contains(r.body, "timed out")) << r.body;
  EXPECT_TRUE(Contains(r.body, "\nprobe_success 0\n"));
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_EQ(fakes.round_count(), 0u);
  EXPECT_EQ(counters->in_flight.load(), 0u) << "the slot is freed although the resolver hangs";
  release->set_value();
  EXPECT_EQ(resolver_done.wait_for(seconds(5)), std::future_status::ready);
}

TEST_F(ProbeHandlerTest, ConcurrencyCapAnswers503) {
  ProbeEndpointOptions o = Options();
  o.max_concurrent = 2;
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  bool release = false;
  o.run_round = [&](const RoundRequest&) -> Expected<metrics::TargetSnapshot, std::string> {
    std::unique_lock<std::mutex> lock(mu);
    ++running;
    cv.notify_all();
    cv.wait_for(lock, seconds(10), [&] { return release; });
    metrics::TargetSnapshot s;
    s.has_round = true;
    s.round_sent = s.round_received = 1;
    return s;
  };
  http::Handler h = MakeProbeHandler(std::move(o), log);
  std::vector<std::future<http::Response>> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(std::async(std::launch::async, [&] { return h(Get("target=127.0.0.1")); }));
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(5), [&] { return running == 2; }));
  }
  EXPECT_EQ(counters->in_flight.load(), 2u);
  http::Response busy = h(Get("target=127.0.0.1"));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(counters->busy.load(), 1u);
  // Refusals are decided before the cap: still 403, not 503.
  EXPECT_EQ(h(Get("target=198.18.0.9")).status, 403);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& f : slow) EXPECT_EQ(f.get().status, 200);
  EXPECT_EQ(counters->in_flight.load(), 0u);
  EXPECT_EQ(h(Get("target=127.0.0.1")).status, 200);
}

TEST_F(ProbeHandlerTest, RoundThatCannotStartIs500) {
  fakes.round_error = "socket: Operation not permitted";
  http::Handler h = MakeProbeHandler(Options(), log);
  http::Response r = h(Get("target=127.0.0.1"));
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(Contains(r.body, "Operation not permitted"));
  EXPECT_EQ(counters->in_flight.load(), 0u);
}

TEST_F(ProbeHandlerTest, CountersRender) {
  counters->refused = 3;
  counters->busy = 1;
  counters->succeeded = 7;
  metrics::FamilyWriter writer(metrics::Format::kText);
  counters->Render(writer);
  const std::string out = writer.Finish();
  EXPECT_TRUE(Contains(out,
                       "# TYPE ping_exporter_probe_refused_total counter\n"
                       "ping_exporter_probe_refused_total 3\n"));
  EXPECT_TRUE(Contains(out, "ping_exporter_probe_busy_total 1\n"));
  EXPECT_TRUE(Contains(out, "ping_exporter_probes_total{result=\"success\"} 7\n"));
  EXPECT_TRUE(Contains(out, "ping_exporter_probes_total{result=\"failure\"} 0\n"));
  EXPECT_TRUE(Contains(out, "ping_exporter_probes_in_flight 0\n"));
}

TEST(ProbeQueryTest, PercentDecodingAndDefaults) {
  ProbeQuery defaults;
  defaults.count = 4;
  defaults.timeout = milliseconds(700);
  auto q = ParseProbeQuery("target=%6c%6F%63alhost&&x=%41&timeout=1.5s", defaults);
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ(q->target, "localhost");
  EXPECT_EQ(q->count, 4u);
  EXPECT_EQ(q->timeout, milliseconds(1500));
  EXPECT_EQ(q->family, config::Family::kAny);
  q = ParseProbeQuery("target=%5B%3A%3A1%5D&count=10&timeout=5s&family=ip6", defaults);
  ASSERT_TRUE(q) << q.error();
  EXPECT_EQ(q->target, "[::1]");
  EXPECT_EQ(q->count, 10u);
  EXPECT_EQ(q->timeout, seconds(5));
  EXPECT_EQ(q->family, config::Family::kIp6);
}

// The real thing: one round over loopback with raw sockets.
TEST(ProbeRoundTest, LoopbackRoundGetsEveryReply) {
  if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kDebug, LogFormat::kLogfmt);
  for (const char* ip : {"127.0.0.1", "::1"}) {
    RoundRequest r;
    r.target = ip;
    r.address = *IpAddress::Parse(ip);
    r.options.count = 3;
    r.options.spacing = milliseconds(10);
    // A long timeout, so a round that waits it out is told apart from one that
    // ends with its last reply even on a loaded machine.
    r.options.timeout = seconds(2);
    r.options.interval = seconds(5);
    auto start = std::chrono::steady_clock::now();
    auto snap = RunIcmpRound(r, icmp::SocketKind::kRaw, log);
    ASSERT_TRUE(snap) << snap.error();
    EXPECT_TRUE(snap->has_round) << ip;
    EXPECT_EQ(snap->round_sent, 3u) << ip;
    EXPECT_EQ(snap->round_received, 3u) << ip;
    EXPECT_GT(snap->rtt_avg, 0.0);
    // All replies in: the round ends early, not after the whole timeout.
    EXPECT_LT(std::chrono::steady_clock::now() - start, r.options.timeout / 2);
  }
}

TEST(ProbeRoundTest, RealHandlerOverLoopback) {
  if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kInfo, LogFormat::kLogfmt);
  ProbeEndpointOptions o;
  o.allow = *AllowList::Parse("127.0.0.0/8,::1/128,localhost");
  o.counters = std::make_shared<ProbeCounters>();
  http::Handler h = MakeProbeHandler(std::move(o), log);
  http::Response r = h(Get("target=localhost&count=2&timeout=500ms"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Contains(r.body, "\nprobe_success 1\n")) << r.body;
  EXPECT_TRUE(Contains(r.body, "ping_round_packets_received{target=\"localhost\"")) << r.body;
}

}  // namespace
}  // namespace ping_exporter::ondemand
