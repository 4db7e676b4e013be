#include "common/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace ping_exporter {

IpAddress IpAddress::FromV4(const in_addr& a) {
  IpAddress ip;
  ip.family_ = IpFamily::kV4;
  ip.v4_ = a;
  return ip;
}

IpAddress IpAddress::FromV6(const in6_addr& a) {
  IpAddress ip;
  ip.family_ = IpFamily::kV6;
  ip.v6_ = a;
  return ip;
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    return FromV4(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    return FromV6(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  // inet_pton reads a C string: a NUL would end the literal early and let whatever follows it
  // ("127.0.0.13\0\xff") ride along unchecked. Only what a literal can hold gets that far.
  if (text.find_first_not_of("0123456789abcdefABCDEF.:") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return FromV4(a4);
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) return FromV6(a6);
  return std::nullopt;
}

socklen_t IpAddress::ToSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_addr = v4_;
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_addr = v6_;
  return sizeof(sockaddr_in6);
}

bool IpAddress::Matches(const sockaddr* sa, socklen_t len) const {
  std::optional<IpAddress> other = FromSockaddr(sa, len);
  return other && *other == *this;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, &v4_, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, &v6_, buf, sizeof buf);
  }
  return buf;
}

bool IpAddress::operator==(const IpAddress& o) const {
  if (family_ != o.family_) return false;
  if (is_v4()) return v4_.s_addr == o.v4_.s_addr;
  return std::memcmp(&v6_, &o.v6_, sizeof v6_) == 0;
}

}  // namespace ping_exporter
