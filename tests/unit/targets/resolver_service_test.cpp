// ResolverService over a fake lookup: answers arrive in the background, literals need no lookup,
// a nameserver that never answers delays nothing but its names, and the bound holds.

#include "targets/resolver_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "test_util/fake_lookup.h"

namespace ping_exporter::targets {
namespace {

using ping_exporter::test_util::FakeDns;
using ping_exporter::test_util::FakeLookup;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

// Counts on_change calls and lets the test wait for them.
class ChangeCounter {
 public:
  std::function<void()> Callback() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++n_;
      cv_.notify_all();
    };
  }
  bool WaitFor(int n, Duration limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return n_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

NameRequest Name(const std::string& host, config::Family family = config::Family::kAny) {
  NameRequest n;
  n.host = host;
  n.family = family;
  return n;
}

Addresses Ips(std::initializer_list<const char*> texts) {
  Addresses out;
  for (const char* t : texts) out.push_back(*IpAddress::Parse(t));
  return out;
}

struct Fixture {
  std::ostringstream logs;
  Logger log{logs, LogLevel::kDebug, LogFormat::kLogfmt};
  std::shared_ptr<FakeDns> dns = std::make_shared<FakeDns>();
  ChangeCounter changes;
};

TEST(ResolverServiceTest, LiteralsAreAnsweredWithoutALookup) {
  Fixture f;
  ResolverService service(std::make_unique<FakeLookup>(f.dns), f.changes.Callback(), f.log);
  service.Track({Name("198.18.0.7"), Name("::1", config::Family::kIp4)});
  ASSERT_TRUE(f.changes.WaitFor(1, seconds(5)));
  EXPECT_EQ(service.AddressesOf("198.18.0.7", config::Family::kAny), Ips({"198.18.0.7"}));
  std::vector<NameState> states = service.States();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[1].host, "::1");
  EXPECT_TRUE(states[1].addresses.empty());
  EXPECT_EQ(states[1].error, "IPv6 address with family ip4");
  EXPECT_GE(states[1].failures, 1u);
  service.Stop();
  EXPECT_EQ(f.dns->started(), 0u);
  EXPECT_NE(f.logs.str().find("cannot resolve target"), std::string::npos) << f.logs.str();
}

TEST(ResolverServiceTest, AnswersArriveInTheBackgroundAndChangesAreSignalled) {
  Fixture f;
  f.dns->Answer("a.test", Ips({"198.18.0.1", "198.18.0.2"}));
  ResolverService service(std::make_unique<FakeLookup>(f.dns), f.changes.Callback(), f.log);
  service.Track({Name("a.test"), Name("b.test")});
  ASSERT_TRUE(f.changes.WaitFor(1, seconds(5)));
  EXPECT_EQ(service.AddressesOf("a.test", config::Family::kAny), Ips({"198.18.0.1", "198.18.0.2"}));
  EXPECT_TRUE(service.AddressesOf("b.test", config::Family::kAny).empty());

  f.dns->Answer("b.test", Ips({"2001:2::1"}));
  ASSERT_TRUE(f.changes.WaitFor(2, seconds(5)));
  EXPECT_EQ(service.AddressesOf("b.test", config::Family::kAny), Ips({"2001:2::1"}));
  EXPECT_EQ(f.dns->started(), 2u);  // each name once: the next lookup is an interval away
}

TEST(ResolverServiceTest, FailedNamesAreCountedAndRetriedSoon) {
  Fixture f;
  f.dns->Answer("gone.test", MakeUnexpected(std::string("Domain name not found")));
  ResolverService service(std::make_unique<FakeLookup>(f.dns), f.changes.Callback(), f.log);
  service.Track({Name("gone.test")});
  // The first retry comes after the 1 s back-off, not the 5 min interval.
  SteadyClock::time_point start = SteadyClock::now();
  ASSERT_TRUE(f.dns->WaitStarted(2, seconds(10)));
  EXPECT_LT(SteadyClock::now() - start, seconds(3));
  std::vector<NameState> states = service.States();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_GE(states[0].failures, 1u);
  EXPECT_EQ(states[0].error, "Domain name not found");
}

TEST(ResolverServiceTest, ANameserverThatNeverAnswersBlocksNobody) {
  Fixture f;
  ResolverService::Options o;
  o.max_in_flight = 64;
  ResolverService service(std::make_unique<FakeLookup>(f.dns), f.changes.Callback(), f.log, o);
  std::vector<NameRequest> names;
  for (int i = 0; i < 1000; ++i) names.push_back(Name("n" + std::to_string(i) + ".test"));

  SteadyClock::time_point start = SteadyClock::now();
  service.Track(names);
  EXPECT_TRUE(service.AddressesOf("n1.test", config::Family::kAny).empty());
  EXPECT_EQ(service.States().size(), 1000u);
  service.Track(names);  // a reload while every lookup hangs
  EXPECT_LT(SteadyClock::now() - start, milliseconds(500));

  ASSERT_TRUE(f.dns->WaitStarted(64, seconds(5)));
  // None finishes, so no more than the bound can have started.
  EXPECT_EQ(f.dns->started(), 64u);
  EXPECT_EQ(f.dns->max_pending(), 64u);

  start = SteadyClock::now();
  service.Stop();
  EXPECT_LT(SteadyClock::now() - start, milliseconds(500));
}

}  // namespace
}  // namespace ping_exporter::targets
