#include "targets/resolver.h"

#include <netdb.h>

#include <memory>

namespace ping_exporter::targets {

Expected<IpAddress, std::string> Resolve(std::string_view host, config::Family family) {
  if (std::optional<IpAddress> literal = IpAddress::Parse(host)) {
    if (family == config::Family::kIp4 && !literal->is_v4()) {
      return MakeUnexpected(std::string("IPv6 address with family ip4"));
    }
    if (family == config::Family::kIp6 && literal->is_v4()) {
      return MakeUnexpected(std::string("IPv4 address with family ip6"));
    }
    return *literal;
  }
  addrinfo hints{};
  hints.ai_family = family == config::Family::kIp4   ? AF_INET
                    : family == config::Family::kIp6 ? AF_INET6
                                                     : AF_UNSPEC;
  hints.ai_socktype = SOCK_RAW;
  addrinfo* raw = nullptr;
  std::string name(host);
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(raw, freeaddrinfo);
  if (rc != 0) return MakeUnexpected(std::string(gai_strerror(rc)));
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (auto ip = IpAddress::FromSockaddr(ai->ai_addr, ai->ai_addrlen)) return *ip;
  }
  return MakeUnexpected(std::string("no address of the requested family"));
}

}  // namespace ping_exporter::targets
