#include "common/ip_address.h"

#include <gtest/gtest.h>

namespace ping_exporter {
namespace {

TEST(IpAddressTest, ParsesLiteralsOnly) {
  EXPECT_EQ(IpAddress::Parse("127.0.0.1")->ToString(), "127.0.0.1");
  EXPECT_EQ(IpAddress::Parse("[::1]")->ToString(), "::1");
  EXPECT_FALSE(IpAddress::Parse("1.2.3.4.5"));
  EXPECT_FALSE(IpAddress::Parse("localhost"));
  EXPECT_FALSE(IpAddress::Parse(""));
  EXPECT_TRUE(IpAddress::Parse("::1")->family() == IpFamily::kV6);
}

TEST(IpAddressTest, EveryByteCounts) {
  // A NUL used to end the literal early: "127.0.0.13\0\xff" parsed as 127.0.0.13.
  EXPECT_FALSE(IpAddress::Parse(std::string_view("127.0.0.13\0\xff", 12)));
  EXPECT_FALSE(IpAddress::Parse(std::string_view("::1\0", 4)));
  EXPECT_FALSE(IpAddress::Parse(std::string_view("[::1\0]", 6)));
  EXPECT_FALSE(IpAddress::Parse(" 127.0.0.1"));
  EXPECT_FALSE(IpAddress::Parse("fe80::1%lo"));  // zone ids are not literals here
  EXPECT_TRUE(IpAddress::Parse("::ffff:127.0.0.1"));
  EXPECT_TRUE(IpAddress::Parse("2001:2:AbCd::1"));
}

TEST(IpAddressTest, SockaddrRoundTripAndMatch) {
  for (const char* text : {"127.0.0.5", "2001:2::9"}) {
    IpAddress a = *IpAddress::Parse(text);
    sockaddr_storage ss;
    socklen_t len = a.ToSockaddr(&ss);
    EXPECT_TRUE(a.Matches(reinterpret_cast<sockaddr*>(&ss), len));
    EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len), a);
  }
  IpAddress v4 = *IpAddress::Parse("127.0.0.5");
  sockaddr_storage ss;
  socklen_t len = IpAddress::Parse("127.0.0.6")->ToSockaddr(&ss);
  EXPECT_FALSE(v4.Matches(reinterpret_cast<sockaddr*>(&ss), len));
  EXPECT_FALSE(v4.Matches(nullptr, 0));
}

}  // namespace
}  // namespace ping_exporter
