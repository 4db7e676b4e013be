#include "common/host_name.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/text.h"

namespace ping_exporter {
namespace {

TEST(HostNameTest, HostNameSyntax) {
  EXPECT_TRUE(IsHostName("localhost"));
  EXPECT_TRUE(IsHostName("a-b.c_d."));
  EXPECT_TRUE(IsHostName("a-b.c_d.example."));
  EXPECT_TRUE(IsHostName(std::string(63, 'a')));
  EXPECT_FALSE(IsHostName(""));
  EXPECT_FALSE(IsHostName("."));
  EXPECT_FALSE(IsHostName("a..b"));
  EXPECT_FALSE(IsHostName("-a.b"));
  EXPECT_FALSE(IsHostName("a-.b"));
  EXPECT_FALSE(IsHostName("a b"));
  EXPECT_FALSE(IsHostName(std::string("a\0b", 3)));
  EXPECT_FALSE(IsHostName("127.0.0.1:80"));
  EXPECT_FALSE(IsHostName(std::string(64, 'a')));
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  EXPECT_FALSE(IsHostName(long_name));
}

TEST(HostNameTest, NumericLastLabelIsNotAName) {
  // getaddrinfo would read these as abbreviated IPv4 addresses.
  for (const char* numeric : {"127.1", "127", "2130706433", "a.1."}) {
    EXPECT_FALSE(IsHostName(numeric)) << numeric;
  }
  EXPECT_TRUE(IsHostName("1.a"));
}

TEST(HostNameTest, HostIsALiteralOrAName) {
  for (const char* host : {"127.0.0.1", "::1", "[::1]", "localhost", "a.test."}) {
    EXPECT_TRUE(IsHost(host)) << host;
  }
  for (const char* bad : {"", "127.1", "[::1", "1.2.3.4.5", "a b", "host:80"}) {
    EXPECT_FALSE(IsHost(bad)) << bad;
  }
}

TEST(HostNameTest, NothingAfterANulSlipsThrough) {
  // inet_pton and getaddrinfo stop at a NUL: every byte must count before they see it.
  for (std::string_view smuggled :
       {std::string_view("127.0.0.13\0\xff", 12), std::string_view("::1\0", 4),
        std::string_view("[::1\0]", 6), std::string_view("localhost\0x", 11)}) {
    EXPECT_FALSE(IsHost(smuggled)) << Quote(smuggled);
    EXPECT_FALSE(IpAddress::Parse(smuggled).has_value()) << Quote(smuggled);
  }
  EXPECT_EQ(NotAHost(std::string_view("127.0.0.13\0\xff", 12)),
            "\"127.0.0.13\\x00\\xff\" is not an IP address or host name (NUL byte at offset 10)");
  EXPECT_EQ(NotAHost("a b"), "\"a b\" is not an IP address or host name");
}

TEST(HostNameTest, CanonicalHost) {
  EXPECT_EQ(CanonicalHost("LocalHost."), "localhost");
  EXPECT_EQ(CanonicalHost("[0:0::1]"), "::1");
  EXPECT_EQ(CanonicalHost("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(CanonicalHost("127.0.0.1"), "127.0.0.1");
}

TEST(HostNameTest, HostKeyIsEqualExactlyWhenCanonicalFormsAre) {
  const char* hosts[] = {"localhost", "LOCALHOST.", "::1",      "[::1]", "0:0::1",
                         "127.0.0.1", "127.0.0.2",  "lab.test", "lab",   "::2"};
  for (const char* a : hosts) {
    for (const char* b : hosts) {
      EXPECT_EQ(HostKey(a) == HostKey(b), CanonicalHost(a) == CanonicalHost(b)) << a << " " << b;
    }
  }
  EXPECT_EQ(HostKey("127.0.0.1"), AddressKey(*IpAddress::Parse("127.0.0.1")));
  EXPECT_EQ(HostKey("[::1]"), AddressKey(*IpAddress::Parse("::1")));
  EXPECT_NE(AddressKey(*IpAddress::Parse("127.0.0.1")), AddressKey(*IpAddress::Parse("::1")));
}

}  // namespace
}  // namespace ping_exporter
