// Fuzzes icmp::ParseMessage with whatever a socket could return.
// Input: byte 0 picks the family (bit 0) and whether an IPv4 header leads (bit 1);
// the rest is the datagram. Properties beyond "no crash, no out-of-bounds read":
//  - sizes and fields agree with the input;
//  - an echo reply that carries a cookie can be encoded again as a request with the
//    same id, sequence, cookie and payload size, and that request, turned into a
//    reply, parses back to the same fields with an intact payload.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "icmp/packet.h"

namespace {

using ping_exporter::IpFamily;
using ping_exporter::fuzz::Require;
namespace icmp = ping_exporter::icmp;

// The reply the peer would send for `request`: only type and checksum change.
void TurnIntoReply(IpFamily family, std::span<uint8_t> request) {
  request[0] = family == IpFamily::kV4 ? 0 : 129;
  request[2] = 0;
  request[3] = 0;
  if (family == IpFamily::kV4) {
    uint16_t sum = icmp::InternetChecksum(request);
    request[2] = static_cast<uint8_t>(sum >> 8);
    request[3] = static_cast<uint8_t>(sum);
  }
}

void CheckReencodes(IpFamily family, const icmp::Message& m,
                    std::span<const uint8_t> original_icmp) {
  // Replies larger than we would ever send are legal on the wire but not encodable.
  if (m.payload_size > icmp::kMaxPayload) return;
  std::vector<uint8_t> out(icmp::kIcmpHeaderSize + m.payload_size);
  size_t n = icmp::EncodeEchoRequest(family, m.id, m.sequence, *m.cookie, m.payload_size, out);
  Require(n == out.size(), "EncodeEchoRequest failed for a parsed reply's id/seq/cookie/size");

  // The payload is intact exactly when it is byte for byte what we would send.
  Require(original_icmp.size() == out.size(), "echo reply payload_size disagrees with its length");
  bool same = std::equal(out.begin() + icmp::kIcmpHeaderSize, out.end(),
                         original_icmp.begin() + icmp::kIcmpHeaderSize);
  Require(same == m.payload_intact, "payload_intact disagrees with a byte comparison");

  TurnIntoReply(family, out);
  icmp::ParseResult again = icmp::ParseMessage(family, false, out);
  Require(again.message.has_value(), "re-encoded reply does not parse");
  const icmp::Message& r = *again.message;
  Require(r.kind == icmp::MessageKind::kEchoReply, "re-encoded reply is not an echo reply");
  Require(r.id == m.id && r.sequence == m.sequence, "re-encoded reply id/sequence changed");
  Require(r.cookie.has_value() && *r.cookie == *m.cookie, "re-encoded reply cookie changed");
  Require(r.payload_size == m.payload_size, "re-encoded reply payload size changed");
  Require(r.payload_intact, "re-encoded reply payload not intact");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const IpFamily family = (data[0] & 1) != 0 ? IpFamily::kV6 : IpFamily::kV4;
  const bool with_ip_header = (data[0] & 2) != 0;
  // The packet ends where libFuzzer's buffer ends, so ASan sees any overread.
  std::span<const uint8_t> packet(data + 1, size - 1);

  icmp::ParseResult result = icmp::ParseMessage(family, with_ip_header, packet);
  if (!result.message) return 0;
  const icmp::Message& m = *result.message;

  Require(m.payload_size <= packet.size(), "payload_size larger than the packet");
  Require(m.payload_intact ? m.cookie.has_value() : true, "payload_intact without a cookie");
  Require(m.ttl.has_value() == (family == IpFamily::kV4 && with_ip_header),
          "ttl present exactly when an IPv4 header was given");
  Require(m.error == icmp::ErrorReason::kNone || m.kind == icmp::MessageKind::kError,
          "error reason on a non-error message");
  Require(icmp::ErrorReasonName(m.error) != nullptr, "ErrorReasonName returned null");
  if (m.quoted_destination) {
    Require(m.kind == icmp::MessageKind::kError, "quoted destination on a non-error message");
    Require(m.quoted_destination->family() == family, "quoted destination of the other family");
  }
  if (m.cookie) {
    Require(m.payload_size >= icmp::kCookieSize, "cookie in a payload shorter than a cookie");
  }

  if (m.kind == icmp::MessageKind::kEchoReply && m.cookie) {
    // The ICMP part of the input: what follows the IPv4 header, if any.
    std::span<const uint8_t> icmp_part = packet;
    if (family == IpFamily::kV4 && with_ip_header) {
      size_t ihl = size_t{packet[0] & 0x0Fu} * 4;
      icmp_part = packet.subspan(ihl);
      size_t total = (size_t{packet[2]} << 8) | packet[3];
      if (total - ihl < icmp_part.size()) icmp_part = icmp_part.first(total - ihl);
    }
    CheckReencodes(family, m, icmp_part);
  }
  return 0;
}
