#include "icmp/packet.h"

#include <cstring>

namespace ping_exporter::icmp {
namespace {

constexpr uint8_t kEchoRequestV4 = 8;
constexpr uint8_t kEchoReplyV4 = 0;
constexpr uint8_t kEchoRequestV6 = 128;
constexpr uint8_t kEchoReplyV6 = 129;

// Payload bytes after the cookie follow a pattern so corruption is visible
// even when an attacker or a broken middlebox fixes the checksum.
uint8_t FillByte(size_t index) { return static_cast<uint8_t>(0xA5 ^ (index * 7)); }

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, static_cast<uint16_t>(v >> 16));
  Put16(p + 2, static_cast<uint16_t>(v));
}
void Put64(uint8_t* p, uint64_t v) {
  Put32(p, static_cast<uint32_t>(v >> 32));
  Put32(p + 4, static_cast<uint32_t>(v));
}
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) { return (uint32_t{Get16(p)} << 16) | Get16(p + 2); }
uint64_t Get64(const uint8_t* p) { return (uint64_t{Get32(p)} << 32) | Get32(p + 4); }

// Cookie layout: magic(4) slot(4) sequence(2) worker(2) send_time(8) token(8) check(4).
void WriteCookie(const Cookie& c, uint8_t* p) {
  Put32(p, kCookieMagic);
  Put32(p + 4, c.slot);
  Put16(p + 8, c.sequence);
  Put16(p + 10, c.worker);
  Put64(p + 12, static_cast<uint64_t>(c.send_time_ns));
  Put64(p + 20, c.token);
  // A cheap mix of the fields so a flipped bit anywhere in the cookie shows.
  uint64_t mix = c.token ^ (uint64_t{c.slot} << 16) ^ c.sequence ^ (uint64_t{c.worker} << 48) ^
                 static_cast<uint64_t>(c.send_time_ns) * 0x9E3779B97F4A7C15ull;
  Put32(p + 28, static_cast<uint32_t>(mix ^ (mix >> 32)));
}

std::optional<Cookie> ReadCookie(const uint8_t* p, size_t len) {
  if (len < kCookieSize || Get32(p) != kCookieMagic) return std::nullopt;
  Cookie c;
  c.slot = Get32(p + 4);
  c.sequence = Get16(p + 8);
  c.worker = Get16(p + 10);
  c.send_time_ns = static_cast<int64_t>(Get64(p + 12));
  c.token = Get64(p + 20);
  uint8_t check[kCookieSize];
  WriteCookie(c, check);
  if (std::memcmp(check + 28, p + 28, 4) != 0) return std::nullopt;
  return c;
}

bool PayloadIntact(const uint8_t* payload, size_t len) {
  for (size_t i = kCookieSize; i < len; ++i) {
    if (payload[i] != FillByte(i)) return false;
  }
  return true;
}

ErrorReason ReasonV4(uint8_t type, uint8_t code) {
  if (type == 11) return ErrorReason::kTtlExceeded;
  if (type != 3) return ErrorReason::kOther;
  switch (code) {
    case 0:
    case 6:
    case 11:
      return ErrorReason::kNetUnreachable;
    case 1:
    case 7:
    case 12:
      return ErrorReason::kHostUnreachable;
    case 9:
    case 10:
    case 13:
      return ErrorReason::kProhibited;
    default:
      return ErrorReason::kOther;
  }
}

ErrorReason ReasonV6(uint8_t type, uint8_t code) {
  if (type == 3) return ErrorReason::kTtlExceeded;
  if (type != 1) return ErrorReason::kOther;
  switch (code) {
    case 0:
      return ErrorReason::kNetUnreachable;
    case 3:
      return ErrorReason::kHostUnreachable;
    case 1:
    case 5:
    case 6:
      return ErrorReason::kProhibited;
    default:
      return ErrorReason::kOther;
  }
}

bool IsErrorType(IpFamily family, uint8_t type) {
  if (family == IpFamily::kV4) return type == 3 || type == 11 || type == 12;
  return type == 1 || type == 3 || type == 4;
}

// Fills echo fields of `m` from an ICMP echo header + payload.
void ReadEcho(const uint8_t* icmp, size_t len, Message& m) {
  m.id = Get16(icmp + 4);
  m.sequence = Get16(icmp + 6);
  m.payload_size = len - kIcmpHeaderSize;
  const uint8_t* payload = icmp + kIcmpHeaderSize;
  m.cookie = ReadCookie(payload, m.payload_size);
  m.payload_intact = m.cookie.has_value() && PayloadIntact(payload, m.payload_size);
}

// Decodes the request quoted in an ICMP error (after the 8-byte error header).
void ReadQuoted(IpFamily family, const uint8_t* q, size_t len, Message& m) {
  size_t ip_len = 0;
  if (family == IpFamily::kV4) {
    if (len < 20 || (q[0] >> 4) != 4) return;
    ip_len = size_t{q[0] & 0x0Fu} * 4;
    if (ip_len < 20 || len < ip_len + kIcmpHeaderSize || q[9] != 1) return;
    in_addr dst{};
    std::memcpy(&dst, q + 16, 4);
    m.quoted_destination = IpAddress::FromV4(dst);
    if (q[ip_len] != kEchoRequestV4) return;
  } else {
    ip_len = 40;
    if (len < ip_len + kIcmpHeaderSize || (q[0] >> 4) != 6 || q[6] != 58) return;
    in6_addr dst{};
    std::memcpy(&dst, q + 24, 16);
    m.quoted_destination = IpAddress::FromV6(dst);
    if (q[ip_len] != kEchoRequestV6) return;
  }
  // Errors quote at least 8 bytes of our request; Linux quotes far more, so
  // the cookie is usually there too.
  m.quotes_echo_request = true;
  ReadEcho(q + ip_len, len - ip_len, m);
}

}  // namespace

uint16_t InternetChecksum(std::span<const uint8_t> data) {
  uint32_t sum = 0;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += Get16(data.data() + i);
  if (i < data.size()) sum += uint32_t{data[i]} << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

size_t EncodeEchoRequest(IpFamily family, uint16_t id, uint16_t sequence, const Cookie& cookie,
                         size_t payload_size, std::span<uint8_t> out) {
  if (payload_size < kCookieSize || payload_size > kMaxPayload) return 0;
  size_t total = kIcmpHeaderSize + payload_size;
  if (out.size() < total) return 0;
  uint8_t* p = out.data();
  p[0] = family == IpFamily::kV4 ? kEchoRequestV4 : kEchoRequestV6;
  p[1] = 0;
  Put16(p + 2, 0);
  Put16(p + 4, id);
  Put16(p + 6, sequence);
  uint8_t* payload = p + kIcmpHeaderSize;
  WriteCookie(cookie, payload);
  for (size_t i = kCookieSize; i < payload_size; ++i) payload[i] = FillByte(i);
  if (family == IpFamily::kV4) Put16(p + 2, InternetChecksum({p, total}));
  return total;
}

ParseResult ParseMessage(IpFamily family, bool with_ip_header, std::span<const uint8_t> data) {
  ParseResult result;
  const uint8_t* p = data.data();
  size_t len = data.size();
  std::optional<uint8_t> ttl;
  if (family == IpFamily::kV4 && with_ip_header) {
    if (len < 20) return result;
    size_t ihl = size_t{p[0] & 0x0Fu} * 4;
    size_t total = Get16(p + 2);
    if ((p[0] >> 4) != 4 || ihl < 20 || ihl > len || total < ihl) {
      result.error = ParseError::kBadIpHeader;
      return result;
    }
    if (p[9] != 1) {
      result.error = ParseError::kNotIcmp;
      return result;
    }
    // Trust the smaller of what arrived and what the header says.
    if (total < len) len = total;
    ttl = p[8];
    p += ihl;
    len -= ihl;
  }
  if (len < kIcmpHeaderSize) return result;
  if (family == IpFamily::kV4 && with_ip_header && InternetChecksum({p, len}) != 0) {
    result.error = ParseError::kBadChecksum;
    return result;
  }
  Message m;
  m.type = p[0];
  m.code = p[1];
  m.ttl = ttl;
  uint8_t reply_type = family == IpFamily::kV4 ? kEchoReplyV4 : kEchoReplyV6;
  if (m.type == reply_type) {
    m.kind = MessageKind::kEchoReply;
    ReadEcho(p, len, m);
  } else if (IsErrorType(family, m.type)) {
    m.kind = MessageKind::kError;
    m.error = family == IpFamily::kV4 ? ReasonV4(m.type, m.code) : ReasonV6(m.type, m.code);
    ReadQuoted(family, p + kIcmpHeaderSize, len - kIcmpHeaderSize, m);
  }
  result.message = m;
  return result;
}

ErrorReason ClassifyError(IpFamily family, uint8_t type, uint8_t code) {
  return family == IpFamily::kV4 ? ReasonV4(type, code) : ReasonV6(type, code);
}

std::optional<Request> DecodeRequest(IpFamily family, std::span<const uint8_t> icmp) {
  uint8_t request_type = family == IpFamily::kV4 ? kEchoRequestV4 : kEchoRequestV6;
  if (icmp.size() < kIcmpHeaderSize || icmp[0] != request_type) return std::nullopt;
  std::optional<Cookie> c =
      ReadCookie(icmp.data() + kIcmpHeaderSize, icmp.size() - kIcmpHeaderSize);
  if (!c) return std::nullopt;
  return Request{Get16(icmp.data() + 6), *c};
}

std::optional<uint16_t> EchoRequestSequence(IpFamily family, std::span<const uint8_t> icmp) {
  uint8_t request_type = family == IpFamily::kV4 ? kEchoRequestV4 : kEchoRequestV6;
  if (icmp.size() < kIcmpHeaderSize || icmp[0] != request_type) return std::nullopt;
  return Get16(icmp.data() + 6);
}

const char* ErrorReasonName(ErrorReason r) {
  switch (r) {
    case ErrorReason::kNone:
      return "none";
    case ErrorReason::kNetUnreachable:
      return "network_unreachable";
    case ErrorReason::kHostUnreachable:
      return "host_unreachable";
    case ErrorReason::kProhibited:
      return "prohibited";
    case ErrorReason::kTtlExceeded:
      return "ttl_exceeded";
    case ErrorReason::kOther:
      return "other";
  }
  return "other";
}

}  // namespace ping_exporter::icmp
