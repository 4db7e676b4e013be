// Fuzzes what a /probe request controls before any packet is sent: the query
// string (ondemand::ParseProbeQuery) and the allow-list gate, plus the allow-list
// flag parser itself (ondemand::AllowList::Parse).
// Input: byte 0 bit 0 picks the mode; the rest is the text.
//  mode 0: a raw query. An accepted query keeps count, timeout and target within
//          their documented bounds, and the gate lets a target through exactly
//          when an independent check of the fixed allow-list below says so.
//  mode 1: --probe.allow text. An accepted list prints (ToString) to text that
//          parses again to the same list.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/host_name.h"
#include "common/ip_address.h"
#include "fuzz_check.h"
#include "ondemand/allow_list.h"
#include "ondemand/probe_handler.h"

namespace {

namespace ondemand = ping_exporter::ondemand;
using ping_exporter::IpAddress;
using ping_exporter::fuzz::Require;

// Loopback and the benchmarking ranges only (see DESIGN.md, "what may be pinged").
constexpr std::string_view kAllow =
    "127.0.0.0/8, ::1, 198.18.0.0/15, 2001:2::/48, localhost, *.lab.test";

// kAllow, decided without the code under test.
bool OracleAllowsAddress(const IpAddress& a) {
  if (a.is_v4()) {
    const auto* b = reinterpret_cast<const uint8_t*>(&a.v4().s_addr);
    return b[0] == 127 || (b[0] == 198 && (b[1] & 0xFE) == 18);
  }
  const uint8_t* b = a.v6().s6_addr;
  bool loopback = true;
  for (int i = 0; i < 15; ++i) loopback = loopback && b[i] == 0;
  loopback = loopback && b[15] == 1;
  bool bench =
      b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x02 && b[4] == 0 && b[5] == 0;
  return loopback || bench;
}

bool OracleAllowsName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string lower(name);
  for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  constexpr std::string_view kSuffix = ".lab.test";
  bool below = lower.size() > kSuffix.size() &&
               lower.compare(lower.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
  return lower == "localhost" || below;
}

void FuzzQuery(std::string_view raw) {
  static const ondemand::AllowList allow = [] {
    auto parsed = ondemand::AllowList::Parse(kAllow);
    Require(parsed.has_value(), "the fixed allow-list does not parse");
    return *parsed;
  }();
  ondemand::ProbeQuery defaults;
  auto q = ondemand::ParseProbeQuery(raw, defaults);
  if (!q) {
    Require(!q.error().empty(), "empty error message");
    return;
  }
  Require(q->count >= 1 && q->count <= ondemand::kMaxCount, "count outside 1..kMaxCount");
  Require(q->timeout.count() > 0 && q->timeout <= ondemand::kMaxTimeout, "timeout out of bounds");
  Require(!q->target.empty(), "empty target accepted");
  std::optional<IpAddress> literal = IpAddress::Parse(q->target);
  Require(literal.has_value() || ping_exporter::IsHostName(q->target),
          "target neither an IP literal nor a host name");
  if (literal) {
    Require(allow.AllowsAddress(*literal) == OracleAllowsAddress(*literal),
            "allow-list disagrees with the oracle on an address");
  } else {
    Require(allow.AllowsName(q->target) == OracleAllowsName(q->target),
            "allow-list disagrees with the oracle on a name");
  }
}

void FuzzAllowList(std::string_view text) {
  auto list = ondemand::AllowList::Parse(text);
  if (!list) return;
  std::string printed = list->ToString();
  auto again = ondemand::AllowList::Parse(printed);
  Require(again.has_value(), "AllowList::ToString output does not parse");
  Require(again->ToString() == printed, "AllowList does not round-trip through ToString");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    FuzzQuery(text);
  } else {
    FuzzAllowList(text);
  }
  return 0;
}
