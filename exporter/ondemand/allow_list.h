#pragma once
// Which targets /probe may ping: networks (CIDRs) and host names, so the
// endpoint cannot be turned into a free ping service for arbitrary hosts.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "common/ip_address.h"

namespace ping_exporter::ondemand {

/// An IPv4 or IPv6 network, e.g. 127.0.0.0/8. A plain value type.
struct Cidr {
  IpAddress network;  ///< host bits cleared
  uint8_t prefix = 0;
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

/// The /probe allow-list, parsed from `--probe.allow`: comma-separated CIDRs,
/// IP literals (a /32 or /128) and host names; a name may start with "*." to
/// allow every name below a domain. A literal target must fall in a network; a
/// name target must be listed by name AND resolve into a network. Names compare
/// case-insensitively, ignoring one trailing dot. Immutable after Parse();
/// thread-safe to share.
class AllowList {
 public:
  AllowList() = default;  ///< empty: allows nothing
  /// Parses the flag's text; an empty text gives an empty list. Errors name the bad entry.
  static Expected<AllowList, std::string> Parse(std::string_view text);

  bool AllowsAddress(const IpAddress& address) const;
  bool AllowsName(std::string_view name) const;
  bool empty() const { return networks_.empty() && names_.empty(); }
  /// Back to flag syntax (normalized), for logs.
  std::string ToString() const;

 private:
  std::vector<Cidr> networks_;
  std::vector<std::string> names_;     ///< lower case, no trailing dot
  std::vector<std::string> suffixes_;  ///< from "*.example.org": ".example.org"
};

}  // namespace ping_exporter::ondemand
