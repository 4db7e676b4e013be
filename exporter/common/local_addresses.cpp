#include "common/local_addresses.h"

#include <ifaddrs.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace ping_exporter {

Expected<std::vector<IpAddress>, std::string> LocalAddresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return MakeUnexpected(std::string("getifaddrs: ") + std::strerror(errno));
  }
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owned(list, freeifaddrs);
  std::vector<IpAddress> out;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    socklen_t len = a->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (auto ip = IpAddress::FromSockaddr(a->ifa_addr, len)) out.push_back(*ip);
  }
  return out;
}

}  // namespace ping_exporter
