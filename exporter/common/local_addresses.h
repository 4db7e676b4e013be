#pragma once
// The addresses of this machine's own interfaces, so a mesh agent can leave itself out of
// the peers its name resolves to (exclude_local).

#include <string>
#include <vector>

#include "common/expected.h"
#include "common/ip_address.h"

namespace ping_exporter {

/// Every IPv4 and IPv6 address on an interface of the calling thread's network namespace
/// (getifaddrs: loopback and interfaces that are down included, IPv6 scope ids dropped), as
/// the kernel has them now. Only the addresses themselves: 127.0.0.2 is not listed although
/// 127.0.0.1/8 answers for it. Thread-safe; the reason when getifaddrs fails.
Expected<std::vector<IpAddress>, std::string> LocalAddresses();

}  // namespace ping_exporter
