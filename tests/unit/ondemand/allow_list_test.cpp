#include "ondemand/allow_list.h"

#include <gtest/gtest.h>

namespace ping_exporter::ondemand {
namespace {

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

TEST(AllowListTest, DefaultIsLoopbackOnly) {
  auto list = AllowList::Parse("127.0.0.0/8,::1/128,localhost");
  ASSERT_TRUE(list) << list.error();
  EXPECT_TRUE(list->AllowsAddress(Ip("127.0.0.1")));
  EXPECT_TRUE(list->AllowsAddress(Ip("127.255.255.254")));
  EXPECT_TRUE(list->AllowsAddress(Ip("::1")));
  EXPECT_FALSE(list->AllowsAddress(Ip("::2")));
  EXPECT_FALSE(list->AllowsAddress(Ip("198.18.0.1")));
  EXPECT_FALSE(list->AllowsAddress(Ip("128.0.0.1")));
  // An IPv4-mapped address is an IPv6 address: not covered by the IPv4 network.
  EXPECT_FALSE(list->AllowsAddress(Ip("::ffff:127.0.0.1")));
  EXPECT_TRUE(list->AllowsName("localhost"));
  EXPECT_TRUE(list->AllowsName("LocalHost."));
  EXPECT_FALSE(list->AllowsName("localhost.localdomain"));
  EXPECT_FALSE(list->AllowsName("evil-localhost"));
  EXPECT_EQ(list->ToString(), "127.0.0.0/8,::1/128,localhost");
}

TEST(AllowListTest, HostBitsAreMaskedAndLiteralsAreSingleHosts) {
  auto list = AllowList::Parse(" 198.18.1.77/24 , 2001:2::5 ,127.0.0.9");
  ASSERT_TRUE(list) << list.error();
  EXPECT_EQ(list->ToString(), "198.18.1.0/24,2001:2::5/128,127.0.0.9/32");
  EXPECT_TRUE(list->AllowsAddress(Ip("198.18.1.1")));
  EXPECT_TRUE(list->AllowsAddress(Ip("198.18.1.255")));
  EXPECT_FALSE(list->AllowsAddress(Ip("198.18.2.1")));
  EXPECT_TRUE(list->AllowsAddress(Ip("2001:2::5")));
  EXPECT_FALSE(list->AllowsAddress(Ip("2001:2::6")));
  EXPECT_TRUE(list->AllowsAddress(Ip("127.0.0.9")));
  EXPECT_FALSE(list->AllowsAddress(Ip("127.0.0.8")));
}

TEST(AllowListTest, OddPrefixLengths) {
  auto list = AllowList::Parse("198.18.0.0/15,2001:2::/48,127.0.0.0/31");
  ASSERT_TRUE(list) << list.error();
  EXPECT_TRUE(list->AllowsAddress(Ip("198.19.255.255")));
  EXPECT_FALSE(list->AllowsAddress(Ip("198.20.0.0")));
  EXPECT_FALSE(list->AllowsAddress(Ip("198.17.255.255")));
  EXPECT_TRUE(list->AllowsAddress(Ip("2001:2:0:ffff::1")));
  EXPECT_FALSE(list->AllowsAddress(Ip("2001:2:1::1")));
  EXPECT_TRUE(list->AllowsAddress(Ip("127.0.0.1")));
  EXPECT_FALSE(list->AllowsAddress(Ip("127.0.0.2")));
}

TEST(AllowListTest, ZeroPrefixAllowsTheWholeFamilyOnly) {
  auto list = AllowList::Parse("0.0.0.0/0");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->AllowsAddress(Ip("198.18.0.1")));
  EXPECT_FALSE(list->AllowsAddress(Ip("::1")));
}

TEST(AllowListTest, WildcardNamesMatchSubdomainsOnly) {
  auto list = AllowList::Parse("*.lab.test,host.test");
  ASSERT_TRUE(list) << list.error();
  EXPECT_TRUE(list->AllowsName("a.lab.test"));
  EXPECT_TRUE(list->AllowsName("x.y.LAB.test."));
  EXPECT_FALSE(list->AllowsName("lab.test"));
  EXPECT_FALSE(list->AllowsName("evillab.test"));
  EXPECT_TRUE(list->AllowsName("host.test"));
  EXPECT_FALSE(list->AllowsName("a.host.test"));
  EXPECT_FALSE(list->AllowsName("host.test..")) << "not a valid name";
  // Names never allow addresses by themselves.
  EXPECT_FALSE(list->AllowsAddress(Ip("127.0.0.1")));
}

TEST(AllowListTest, EmptyAllowsNothing) {
  auto list = AllowList::Parse("");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(list->AllowsAddress(Ip("127.0.0.1")));
  EXPECT_FALSE(list->AllowsName("localhost"));
}

TEST(AllowListTest, RejectsBadEntriesWithTheirText) {
  for (const char* bad :
       {"127.0.0.0/33", "::1/129", "127.0.0.1/", "127.0.0.1/x", "/8", "localhost,,::1", "a b",
        "bad_host!", "*.", "*.*.x", "127.0.0.0/-1", "127.0.0.0/8/8"}) {
    auto list = AllowList::Parse(bad);
    EXPECT_FALSE(list) << bad;
    if (!list) {
      EXPECT_NE(list.error().find("entry"), std::string::npos) << list.error();
    }
  }
}

}  // namespace
}  // namespace ping_exporter::ondemand
