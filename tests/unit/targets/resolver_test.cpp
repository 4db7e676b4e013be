#include "targets/resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace ping_exporter::targets {
namespace {

// Only "localhost" (from /etc/hosts) and names under .invalid (RFC 6761: never resolve) are
// looked up; no test depends on real DNS.
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

bool IsLoopback(const IpAddress& ip) {
  return ip.ToString() == "::1" || ip.ToString().rfind("127.", 0) == 0;
}

TEST(ResolverTest, ResolveKeepsWorkingForLiteralsAndFamilies) {
  auto v4 = Resolve("127.0.0.1", config::Family::kAny);
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->ToString(), "127.0.0.1");
  EXPECT_FALSE(Resolve("::1", config::Family::kIp4).has_value());
  EXPECT_FALSE(Resolve("127.0.0.1", config::Family::kIp6).has_value());
  auto lh = Resolve("localhost", config::Family::kIp4);
  ASSERT_TRUE(lh.has_value()) << lh.error();
  EXPECT_EQ(lh->ToString(), "127.0.0.1");
}

TEST(ResolveAllTest, LocalhostGivesLoopbackAddressesWithoutRepeats) {
  auto all = ResolveAll("localhost", config::Family::kAny, seconds(10));
  ASSERT_TRUE(all.has_value()) << all.error();
  ASSERT_FALSE(all->empty());
  std::vector<std::string> seen;
  for (const IpAddress& ip : *all) {
    EXPECT_TRUE(IsLoopback(ip)) << ip.ToString();
    EXPECT_EQ(std::count(seen.begin(), seen.end(), ip.ToString()), 0) << ip.ToString();
    seen.push_back(ip.ToString());
  }
  // The first address is the one Resolve() picks.
  auto first = Resolve("localhost", config::Family::kAny);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(all->front(), *first);
}

TEST(ResolveAllTest, FamilyFiltersNames) {
  auto v4 = ResolveAll("localhost", config::Family::kIp4, seconds(10));
  ASSERT_TRUE(v4.has_value()) << v4.error();
  EXPECT_NE(std::find(v4->begin(), v4->end(), *IpAddress::Parse("127.0.0.1")), v4->end());
  for (const IpAddress& ip : *v4) EXPECT_TRUE(ip.is_v4()) << ip.ToString();
  // Whether localhost has an IPv6 address depends on /etc/hosts; if it has, it is ::1.
  auto v6 = ResolveAll("localhost", config::Family::kIp6, seconds(10));
  if (v6.has_value()) {
    ASSERT_FALSE(v6->empty());
    for (const IpAddress& ip : *v6) EXPECT_EQ(ip.ToString(), "::1");
  } else {
    EXPECT_FALSE(v6.error().empty());
  }
}

TEST(ResolveAllTest, LiteralsNeedNoLookup) {
  // A zero timeout would fail any lookup, so success proves there was none.
  auto v6 = ResolveAll("[::1]", config::Family::kAny, Duration::zero());
  ASSERT_TRUE(v6.has_value()) << v6.error();
  ASSERT_EQ(v6->size(), 1u);
  EXPECT_EQ((*v6)[0].ToString(), "::1");
  auto v4 = ResolveAll("127.0.0.9", config::Family::kIp4, Duration::zero());
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ((*v4)[0].ToString(), "127.0.0.9");
  auto wrong = ResolveAll("127.0.0.9", config::Family::kIp6, seconds(1));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error(), "IPv4 address with family ip6");
  EXPECT_EQ(ResolveAll("::1", config::Family::kIp4, seconds(1)).error(),
            "IPv6 address with family ip4");
}

TEST(ResolveAllTest, InvalidTopLevelDomainFails) {
  // Either the resolver answers NXDOMAIN or, with no reachable server, the timeout fires:
  // both are errors, and neither may take much longer than the timeout.
  SteadyClock::time_point start = SteadyClock::now();
  auto r = ResolveAll("no-such-host.invalid", config::Family::kAny, seconds(5));
  ASSERT_FALSE(r.has_value());
  EXPECT_FALSE(r.error().empty());
  EXPECT_LT(SteadyClock::now() - start, seconds(6));
}

TEST(ResolveAllTest, TinyTimeoutReturnsPromptlyAndTheLateLookupIsHarmless) {
  // The helper threads outlive these calls and finish (or fail) later on their own; ASan
  // builds check they touch nothing freed.
  SteadyClock::time_point start = SteadyClock::now();
  int timed_out = 0;
  // A lookup that fails fast (tools/private_resolver.sh has no nameserver to wait for)
  // often beats even a 1ns deadline, and its own error is then used; so keep asking,
  // bounded, until the deadline has won a few times.
  for (int i = 0; i < 200 && timed_out < 3; ++i) {
    auto r = ResolveAll("slow-" + std::to_string(i) + ".invalid", config::Family::kAny,
                        std::chrono::nanoseconds(1));
    ASSERT_FALSE(r.has_value());
    if (r.error() == "lookup timed out after 1ns") ++timed_out;
  }
  EXPECT_EQ(timed_out, 3);
  EXPECT_LT(SteadyClock::now() - start, seconds(1));
  // A name that resolves at once also loses against a 1ns deadline, without crashing.
  // Either outcome is right, and each is checked.
  auto lh = ResolveAll("localhost", config::Family::kAny, std::chrono::nanoseconds(1));
  if (lh.has_value()) {
    ASSERT_FALSE(lh->empty());
    for (const IpAddress& ip : *lh) EXPECT_TRUE(IsLoopback(ip)) << ip.ToString();
  } else {
    EXPECT_EQ(lh.error(), "lookup timed out after 1ns");
  }
}

TEST(ResolveAllTest, NonPositiveTimeoutFailsWithoutALookup) {
  SteadyClock::time_point start = SteadyClock::now();
  auto zero = ResolveAll("localhost", config::Family::kAny, Duration::zero());
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error(), "lookup timed out after 0s");
  auto negative = ResolveAll("localhost", config::Family::kAny, -milliseconds(5));
  ASSERT_FALSE(negative.has_value());
  EXPECT_LT(SteadyClock::now() - start, milliseconds(100));
}

TEST(ResolveAllTest, HugeTimeoutDoesNotOverflow) {
  auto r = ResolveAll("localhost", config::Family::kIp4, Duration::max());
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_TRUE((*r)[0].is_v4());
}

}  // namespace
}  // namespace ping_exporter::targets
