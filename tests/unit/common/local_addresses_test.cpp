#include "common/local_addresses.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "common/fd.h"

namespace ping_exporter {
namespace {

bool Listed(const std::vector<IpAddress>& list, const IpAddress& ip) {
  return std::find(list.begin(), list.end(), ip) != list.end();
}

TEST(LocalAddressesTest, ListsTheLoopbackAddressThisMachineCanBindTo) {
  auto local = LocalAddresses();
  ASSERT_TRUE(local.has_value()) << local.error();
  // Bindable means configured on an interface here (lo may be down in a bare namespace).
  Fd s(socket(AF_INET, SOCK_DGRAM, 0));
  ASSERT_TRUE(s.valid());
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    EXPECT_TRUE(Listed(*local, *IpAddress::Parse("127.0.0.1")));
  }
}

TEST(LocalAddressesTest, ListsEveryIpv6AddressTheKernelReports) {
  auto local = LocalAddresses();
  ASSERT_TRUE(local.has_value()) << local.error();
  // /proc/net/if_inet6: one address a line, 32 hex digits first.
  std::ifstream in("/proc/net/if_inet6");
  std::string line;
  size_t seen = 0;
  while (seen < 10000 && std::getline(in, line)) {
    ++seen;
    ASSERT_GE(line.size(), 32u) << line;
    std::string text;
    for (size_t i = 0; i < 32; i += 4) text += (i ? ":" : "") + line.substr(i, 4);
    auto ip = IpAddress::Parse(text);
    ASSERT_TRUE(ip) << text;
    EXPECT_TRUE(Listed(*local, *ip)) << text;
  }
}

}  // namespace
}  // namespace ping_exporter
