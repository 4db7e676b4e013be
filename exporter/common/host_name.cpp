#include "common/host_name.h"

#include <algorithm>
#include <optional>

#include "common/text.h"

namespace ping_exporter {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Lower case, without the trailing dot of a fully qualified name.
std::string NameKey(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) out += Lower(c);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 254) return false;
  if (s.back() == '.') s.remove_suffix(1);
  size_t label_len = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label_len == 0 || label_len > 63) return false;
      if (s[i - 1] == '-' || s[i - label_len] == '-') return false;
      label_len = 0;
      continue;
    }
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
    ++label_len;
  }
  // A numeric last label ("127.1") is not a DNS name, and getaddrinfo would read it as an
  // abbreviated IPv4 address behind the family check's back.
  size_t last = s.rfind('.');
  std::string_view tld = last == std::string_view::npos ? s : s.substr(last + 1);
  return !std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsHost(std::string_view s) { return IpAddress::Parse(s).has_value() || IsHostName(s); }

std::string NotAHost(std::string_view s) {
  std::string message = Quote(s) + " is not an IP address or host name";
  if (std::optional<std::string> why = UnprintableReason(s)) message += " (" + *why + ")";
  return message;
}

std::string CanonicalHost(std::string_view host) {
  if (std::optional<IpAddress> ip = IpAddress::Parse(host)) return ip->ToString();
  return NameKey(host);
}

std::string HostKey(std::string_view host) {
  if (std::optional<IpAddress> ip = IpAddress::Parse(host)) return AddressKey(*ip);
  return NameKey(host);
}

std::string AddressKey(const IpAddress& ip) {
  // A leading NUL cannot start a host name, so address keys never equal name keys.
  std::string key(1, '\0');
  if (ip.is_v4()) {
    key.append(reinterpret_cast<const char*>(&ip.v4()), sizeof(in_addr));
  } else {
    key.append(reinterpret_cast<const char*>(&ip.v6()), sizeof(in6_addr));
  }
  return key;
}

}  // namespace ping_exporter
