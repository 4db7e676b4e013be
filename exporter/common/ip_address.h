#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ping_exporter {

enum class IpFamily : uint8_t { kV4, kV6 };

/// An IPv4 or IPv6 address (no port). A plain value type.
class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress FromV4(const in_addr& a);
  static IpAddress FromV6(const in6_addr& a);
  /// Builds from a socket address; nullopt unless AF_INET/AF_INET6.
  static std::optional<IpAddress> FromSockaddr(const sockaddr* sa, socklen_t len);
  /// Parses a literal ("127.0.0.1", "::1", "[::1]"); nullopt if not a literal. Every byte of
  /// `text` counts: "127.0.0.1\0x" is not a literal.
  static std::optional<IpAddress> Parse(std::string_view text);

  IpFamily family() const { return family_; }
  bool is_v4() const { return family_ == IpFamily::kV4; }
  const in_addr& v4() const { return v4_; }
  const in6_addr& v6() const { return v6_; }

  /// Fills a sockaddr (port 0) for sendto(); returns its length.
  socklen_t ToSockaddr(sockaddr_storage* out) const;
  /// Same address as the source of a received packet?
  bool Matches(const sockaddr* sa, socklen_t len) const;
  std::string ToString() const;

  bool operator==(const IpAddress& o) const;
  bool operator!=(const IpAddress& o) const { return !(*this == o); }

 private:
  IpFamily family_ = IpFamily::kV4;
  in_addr v4_{};
  in6_addr v6_{};
};

}  // namespace ping_exporter
