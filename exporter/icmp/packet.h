#pragma once
// ICMP / ICMPv6 echo encoding and reply decoding. Pure functions over bytes:
// no sockets, no clocks, so every malformed input can be tested and fuzzed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/ip_address.h"

namespace ping_exporter::icmp {

constexpr size_t kIcmpHeaderSize = 8;
constexpr uint32_t kCookieMagic = 0x50455850;  // "PEXP"
/// The cookie at the start of every request payload; the payload may not be smaller.
constexpr size_t kCookieSize = 32;
constexpr size_t kMaxPayload = 65000;

/// What we put in each request and expect back unchanged.
struct Cookie {
  uint32_t slot = 0;         ///< the worker-local target index
  uint16_t sequence = 0;     ///< equals the ICMP sequence
  uint16_t worker = 0;       ///< worker index
  int64_t send_time_ns = 0;  ///< CLOCK_MONOTONIC at send: tells a replay from a reply
  uint64_t token = 0;        ///< per-process random secret
  bool operator==(const Cookie&) const = default;
};

/// Writes an echo request (header + payload) into `out`; returns the bytes
/// written, or 0 if `out` is too small or payload_size < kCookieSize.
/// IPv4 requests carry a checksum; for IPv6 the kernel computes it.
size_t EncodeEchoRequest(IpFamily family, uint16_t id, uint16_t sequence, const Cookie& cookie,
                         size_t payload_size, std::span<uint8_t> out);

/// RFC 1071 internet checksum.
uint16_t InternetChecksum(std::span<const uint8_t> data);

enum class MessageKind : uint8_t {
  kEchoReply,  ///< an echo reply (type 0 / 129)
  kError,      ///< destination unreachable, time exceeded, ... quoting an echo request
  kOther,      ///< anything else (echo requests, redirects, ...): ignored
};

/// Why an ICMP error was sent, reduced to the reasons the metrics use.
enum class ErrorReason : uint8_t {
  kNone,
  kNetUnreachable,
  kHostUnreachable,
  kProhibited,
  kTtlExceeded,
  kOther,
};

/// A decoded message. For kError, id/sequence/cookie/destination describe the
/// quoted request (what we sent), not the error itself.
struct Message {
  MessageKind kind = MessageKind::kOther;
  ErrorReason error = ErrorReason::kNone;
  uint8_t type = 0;
  uint8_t code = 0;
  uint16_t id = 0;
  uint16_t sequence = 0;
  std::optional<Cookie> cookie;  ///< present if the payload starts with a well-formed cookie
  bool payload_intact = false;   ///< payload after the cookie has the expected fill pattern
  size_t payload_size = 0;       ///< bytes after the ICMP header
  std::optional<uint8_t> ttl;    ///< from the IPv4 header when the socket returns it
  std::optional<IpAddress> quoted_destination;  ///< kError: destination of the quoted request
  /// kError: the quote holds an echo request's ICMP header, so id and sequence are its.
  bool quotes_echo_request = false;
};

enum class ParseError : uint8_t {
  kTruncated,    ///< shorter than its headers claim
  kBadIpHeader,  ///< IPv4 version/IHL/length inconsistent
  kNotIcmp,      ///< IPv4 protocol is not ICMP
  kBadChecksum,  ///< IPv4 ICMP checksum wrong
};

/// Decodes what one recvmsg() returned. `with_ip_header` is true for raw IPv4
/// sockets (the kernel includes the IP header), false for datagram sockets and IPv6.
/// Never reads outside `data`; never throws.
struct ParseResult {
  std::optional<Message> message;
  ParseError error = ParseError::kTruncated;
};
ParseResult ParseMessage(IpFamily family, bool with_ip_header, std::span<const uint8_t> data);

const char* ErrorReasonName(ErrorReason r);

/// The reason for an ICMP error of `type`/`code` in `family`.
ErrorReason ClassifyError(IpFamily family, uint8_t type, uint8_t code);

/// Decodes one of our own echo requests (as a datagram socket's error queue
/// returns it: ICMP header first). Returns its sequence and cookie, or nullopt.
struct Request {
  uint16_t sequence = 0;
  Cookie cookie;
};
std::optional<Request> DecodeRequest(IpFamily family, std::span<const uint8_t> icmp);
/// The sequence of an echo request from its first 8 bytes alone (a quote cut
/// to RFC 792's minimum carries no cookie), or nullopt if it is not one.
std::optional<uint16_t> EchoRequestSequence(IpFamily family, std::span<const uint8_t> icmp);

}  // namespace ping_exporter::icmp
