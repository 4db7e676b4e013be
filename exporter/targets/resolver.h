#pragma once
// Turns configured host strings into addresses.

#include <string>
#include <string_view>

#include "common/expected.h"
#include "common/ip_address.h"
#include "config/config.h"

namespace ping_exporter::targets {

/// Resolves `host` for `family`. IP literals are returned as they are (after a
/// family check); names go through getaddrinfo(), which blocks: call it off
/// the probe path. For Family::kAny the system's address order (RFC 6724, see
/// /etc/gai.conf) decides. Thread-safe. Returns a readable message on failure.
Expected<IpAddress, std::string> Resolve(std::string_view host, config::Family family);

}  // namespace ping_exporter::targets
