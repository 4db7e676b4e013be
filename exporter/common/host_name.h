#pragma once
// Host name rules shared by the config, target files and /probe, so all three accept the
// same hosts and spot the same duplicates.

#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace ping_exporter {

/// An RFC 1123 host name (plus '_', which some internal zones use): dot-separated labels of
/// 1..63 letters, digits, '-' or '_', not starting or ending with '-', 254 characters at most
/// with one trailing dot allowed. A numeric last label ("127.1") is refused.
bool IsHostName(std::string_view s);

/// An IP literal (as IpAddress::Parse reads it, "[::1]" included) or an IsHostName() name:
/// what a config, a target file and /probe accept as a host.
bool IsHost(std::string_view s);

/// What messages say of a string that is not IsHost(): `"a b" is not an IP address or host
/// name`, quoted with Quote(), and why when it holds bytes no host can: `"127.0.0.13\x00\xff"
/// is not an IP address or host name (NUL byte at offset 10)`.
std::string NotAHost(std::string_view s);

/// The form used to show and compare hosts: canonical text for IP literals (brackets
/// dropped), lower case without a trailing dot for names.
std::string CanonicalHost(std::string_view host);

/// A compact key, equal for two hosts exactly when their CanonicalHost() is equal: raw bytes
/// for IP literals (no formatting), so duplicate checks over 100 000 hosts stay cheap. Not
/// for display.
std::string HostKey(std::string_view host);

/// HostKey() of an already parsed address.
std::string AddressKey(const IpAddress& ip);

}  // namespace ping_exporter
