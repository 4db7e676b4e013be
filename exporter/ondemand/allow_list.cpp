#include "ondemand/allow_list.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/host_name.h"
#include "common/text.h"

namespace ping_exporter::ondemand {
namespace {

// Clears every bit after the first `prefix` bits of `bytes`.
void MaskBytes(uint8_t* bytes, size_t size, uint8_t prefix) {
  for (size_t i = 0; i < size; ++i) {
    size_t first_bit = i * 8;
    if (first_bit >= prefix) {
      bytes[i] = 0;
    } else if (prefix - first_bit < 8) {
      bytes[i] &= static_cast<uint8_t>(0xFF00u >> (prefix - first_bit));
    }
  }
}

IpAddress Masked(const IpAddress& address, uint8_t prefix) {
  if (address.is_v4()) {
    in_addr a = address.v4();
    MaskBytes(reinterpret_cast<uint8_t*>(&a.s_addr), sizeof a.s_addr, prefix);
    return IpAddress::FromV4(a);
  }
  in6_addr a = address.v6();
  MaskBytes(a.s6_addr, sizeof a.s6_addr, prefix);
  return IpAddress::FromV6(a);
}

}  // namespace

bool Cidr::Contains(const IpAddress& address) const {
  if (address.family() != network.family()) return false;
  return Masked(address, prefix) == network;
}

std::string Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix); }

Expected<AllowList, std::string> AllowList::Parse(std::string_view text) {
  AllowList list;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view entry = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (entry.empty()) {
      // "" as a whole means "allow nothing"; an empty item inside a list is a typo.
      if (Trim(text).empty()) break;
      return MakeUnexpected(std::string("empty entry in the allow-list"));
    }
    auto bad = [&](const char* why) {
      return MakeUnexpected("allow-list entry " + Quote(entry) + ": " + why);
    };
    size_t slash = entry.find('/');
    if (slash != std::string_view::npos) {
      std::optional<IpAddress> ip = IpAddress::Parse(entry.substr(0, slash));
      if (!ip) return bad("not an IP network (want ADDRESS/PREFIX)");
      std::string_view bits = entry.substr(slash + 1);
      unsigned prefix = 0;
      auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      unsigned max_prefix = ip->is_v4() ? 32 : 128;
      if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() ||
          prefix > max_prefix) {
        return bad(ip->is_v4() ? "prefix must be 0..32" : "prefix must be 0..128");
      }
      uint8_t p = static_cast<uint8_t>(prefix);
      list.networks_.push_back(Cidr{Masked(*ip, p), p});
    } else if (std::optional<IpAddress> ip = IpAddress::Parse(entry)) {
      list.networks_.push_back(Cidr{*ip, static_cast<uint8_t>(ip->is_v4() ? 32 : 128)});
    } else if (entry.size() > 2 && entry.substr(0, 2) == "*.") {
      if (!IsHostName(entry.substr(2))) return bad("not a host name pattern");
      // Appended, not `"." + name`: GCC 12 at -O3 reports a -Wrestrict overlap
      // in that operator+ that cannot happen.
      list.suffixes_.push_back(std::string(".").append(CanonicalHost(entry.substr(2))));
    } else if (IsHostName(entry)) {
      list.names_.push_back(CanonicalHost(entry));
    } else {
      return bad("want a CIDR (127.0.0.0/8), an IP address or a host name");
    }
  }
  return list;
}

bool AllowList::AllowsAddress(const IpAddress& address) const {
  return std::any_of(networks_.begin(), networks_.end(),
                     [&](const Cidr& c) { return c.Contains(address); });
}

bool AllowList::AllowsName(std::string_view name) const {
  if (!IsHostName(name)) return false;
  std::string n = CanonicalHost(name);
  if (std::find(names_.begin(), names_.end(), n) != names_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& suffix) {
    return n.size() > suffix.size() &&
           n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

std::string AllowList::ToString() const {
  std::string out;
  auto add = [&](const std::string& s) {
    if (!out.empty()) out += ',';
    out += s;
  };
  for (const Cidr& c : networks_) add(c.ToString());
  for (const std::string& n : names_) add(n);
  for (const std::string& s : suffixes_) add("*" + s);
  return out;
}

}  // namespace ping_exporter::ondemand
