#pragma once
// Turns configured host strings into addresses.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "common/ip_address.h"
#include "config/config.h"

namespace ping_exporter::targets {

using Addresses = std::vector<IpAddress>;

/// `host` as an IP literal: itself if `family` accepts it, else an error ("IPv4 address with
/// family ip6"); nullopt if `host` is not a literal (a name to look up). Never throws except
/// std::bad_alloc.
std::optional<Expected<Addresses, std::string>> ResolveLiteral(std::string_view host,
                                                               config::Family family);

/// Resolves `host` for `family`. IP literals are returned as they are (after a
/// family check); names go through getaddrinfo(), which blocks: call it off
/// the probe path. For Family::kAny the system's address order (RFC 6724, see
/// /etc/gai.conf) decides. Thread-safe. Returns a readable message on failure.
Expected<IpAddress, std::string> Resolve(std::string_view host, config::Family family);

namespace detail {
/// AF_INET, AF_INET6 or AF_UNSPEC for getaddrinfo()-style hints.
int AddressFamily(config::Family family);
/// Appends the address in `sa` to `out` unless it is there already (or not IPv4/IPv6).
void AppendUnique(Addresses& out, const sockaddr* sa, socklen_t len);
}  // namespace detail

}  // namespace ping_exporter::targets
