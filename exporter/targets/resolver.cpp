#include "targets/resolver.h"

#include <netdb.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

namespace ping_exporter::targets {
namespace {

// Blocking getaddrinfo(); every address in the order returned, without repeats.
Expected<Addresses, std::string> LookupAll(const std::string& name, int ai_family) {
  addrinfo hints{};
  hints.ai_family = ai_family;
  hints.ai_socktype = SOCK_RAW;  // one entry per address, not one per socket type
  addrinfo* raw = nullptr;
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &raw);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(raw, freeaddrinfo);
  if (rc != 0) return MakeUnexpected(std::string(gai_strerror(rc)));
  Addresses out;
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    detail::AppendUnique(out, ai->ai_addr, ai->ai_addrlen);
  }
  if (out.empty()) return MakeUnexpected(std::string("no address of the requested family"));
  return out;
}

}  // namespace

namespace detail {
int AddressFamily(config::Family family) {
  return family == config::Family::kIp4   ? AF_INET
         : family == config::Family::kIp6 ? AF_INET6
                                          : AF_UNSPEC;
}

void AppendUnique(Addresses& out, const sockaddr* sa, socklen_t len) {
  std::optional<IpAddress> ip = IpAddress::FromSockaddr(sa, len);
  if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
}
}  // namespace detail

std::optional<Expected<Addresses, std::string>> ResolveLiteral(std::string_view host,
                                                               config::Family family) {
  std::optional<IpAddress> literal = IpAddress::Parse(host);
  if (!literal) return std::nullopt;
  if (family == config::Family::kIp4 && !literal->is_v4()) {
    return MakeUnexpected(std::string("IPv6 address with family ip4"));
  }
  if (family == config::Family::kIp6 && literal->is_v4()) {
    return MakeUnexpected(std::string("IPv4 address with family ip6"));
  }
  return Addresses{*literal};
}

Expected<IpAddress, std::string> Resolve(std::string_view host, config::Family family) {
  if (auto literal = ResolveLiteral(host, family)) {
    if (!*literal) return MakeUnexpected((*literal).error());
    return (**literal).front();
  }
  Expected<Addresses, std::string> all =
      LookupAll(std::string(host), detail::AddressFamily(family));
  if (!all) return MakeUnexpected(all.error());
  return all->front();
}

}  // namespace ping_exporter::targets
