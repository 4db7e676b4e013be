#include "targets/resolver.h"

#include <gtest/gtest.h>

#include <string>

namespace ping_exporter::targets {
namespace {

// Only "localhost" (from /etc/hosts) and names under .invalid (RFC 6761: never resolve) are
// looked up; no test depends on real DNS. Lookups with deadlines, retries and caching are the
// resolver service's (resolver_service_test.cpp, over c-ares).
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

TEST(ResolverTest, UnknownNamesFailWithTheResolversMessage) {
  // tools/private_resolver.sh's nameserver is unreachable, so this fails at once; on a
  // machine with DNS it is NXDOMAIN. Either way an error, never an address.
  auto r = Resolve("no-such-host.invalid", config::Family::kAny);
  ASSERT_FALSE(r.has_value());
  EXPECT_FALSE(r.error().empty());
}

TEST(ResolveLiteralTest, LiteralsNeedNoLookupAndAreCheckedAgainstTheFamily) {
  auto v6 = ResolveLiteral("[::1]", config::Family::kAny);
  ASSERT_TRUE(v6.has_value());
  ASSERT_TRUE(v6->has_value()) << v6->error();
  ASSERT_EQ((*v6)->size(), 1u);
  EXPECT_EQ((**v6)[0].ToString(), "::1");
  auto v4 = ResolveLiteral("127.0.0.9", config::Family::kIp4);
  ASSERT_TRUE(v4.has_value() && v4->has_value());
  EXPECT_EQ((**v4)[0].ToString(), "127.0.0.9");
  auto wrong = ResolveLiteral("127.0.0.9", config::Family::kIp6);
  ASSERT_TRUE(wrong.has_value());
  ASSERT_FALSE(wrong->has_value());
  EXPECT_EQ(wrong->error(), "IPv4 address with family ip6");
  EXPECT_EQ(ResolveLiteral("::1", config::Family::kIp4)->error(), "IPv6 address with family ip4");
  // A name is not a literal: the caller looks it up.
  EXPECT_FALSE(ResolveLiteral("localhost", config::Family::kAny).has_value());
}

}  // namespace
}  // namespace ping_exporter::targets
