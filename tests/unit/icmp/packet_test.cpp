#include "icmp/packet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace ping_exporter::icmp {
namespace {

Cookie SampleCookie() { return Cookie{42, 7, 3, 1234567890123, 0xDEADBEEFCAFEF00Dull}; }

// A raw IPv4 reply as the kernel would deliver it: IP header + ICMP.
// Sized once and filled in place: growing it with insert() makes GCC 12 at -O3
// see a copy past the 20 header bytes (-Warray-bounds) that never happens.
std::vector<uint8_t> WrapV4(const std::vector<uint8_t>& icmp, uint8_t ttl, uint8_t proto = 1) {
  constexpr size_t kIpHeader = 20;
  std::vector<uint8_t> p(kIpHeader + icmp.size());
  p[0] = 0x45;
  uint16_t total = static_cast<uint16_t>(p.size());
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[8] = ttl;
  p[9] = proto;
  std::copy(icmp.begin(), icmp.end(), p.begin() + kIpHeader);
  return p;
}

// Turns an encoded request into the matching reply (type 0, checksum fixed).
std::vector<uint8_t> ToReplyV4(std::vector<uint8_t> req) {
  req[0] = 0;
  req[2] = req[3] = 0;
  uint16_t c = InternetChecksum(req);
  req[2] = static_cast<uint8_t>(c >> 8);
  req[3] = static_cast<uint8_t>(c);
  return req;
}

std::vector<uint8_t> Encode(IpFamily f, size_t payload = 56) {
  std::vector<uint8_t> buf(kIcmpHeaderSize + payload);
  size_t n = EncodeEchoRequest(f, 0x1234, 7, SampleCookie(), payload, buf);
  EXPECT_EQ(n, buf.size());
  return buf;
}

TEST(PacketTest, ChecksumOfEncodedV4RequestVerifies) {
  std::vector<uint8_t> req = Encode(IpFamily::kV4);
  EXPECT_EQ(req[0], 8);
  EXPECT_EQ(InternetChecksum(req), 0);
}

TEST(PacketTest, ChecksumKnownValue) {
  // RFC 1071 example bytes.
  std::array<uint8_t, 8> d{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(d), static_cast<uint16_t>(~0xddf2 & 0xFFFF));
}

TEST(PacketTest, V4ReplyRoundTripsCookieAndTtl) {
  auto pkt = WrapV4(ToReplyV4(Encode(IpFamily::kV4)), 61);
  ParseResult r = ParseMessage(IpFamily::kV4, true, pkt);
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, MessageKind::kEchoReply);
  EXPECT_EQ(r.message->id, 0x1234);
  EXPECT_EQ(r.message->sequence, 7);
  ASSERT_TRUE(r.message->cookie);
  EXPECT_EQ(*r.message->cookie, SampleCookie());
  EXPECT_TRUE(r.message->payload_intact);
  EXPECT_EQ(r.message->ttl, 61);
}

TEST(PacketTest, V6ReplyWithoutIpHeader) {
  std::vector<uint8_t> req = Encode(IpFamily::kV6);
  EXPECT_EQ(req[0], 128);
  req[0] = 129;
  ParseResult r = ParseMessage(IpFamily::kV6, false, req);
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, MessageKind::kEchoReply);
  EXPECT_EQ(*r.message->cookie, SampleCookie());
  EXPECT_FALSE(r.message->ttl.has_value());
}

TEST(PacketTest, BadChecksumRejected) {
  auto icmp = ToReplyV4(Encode(IpFamily::kV4));
  icmp[20] ^= 0xFF;
  ParseResult r = ParseMessage(IpFamily::kV4, true, WrapV4(icmp, 64));
  EXPECT_FALSE(r.message);
  EXPECT_EQ(r.error, ParseError::kBadChecksum);
}

TEST(PacketTest, CorruptPayloadWithFixedChecksumIsNotIntact) {
  auto req = Encode(IpFamily::kV4);
  req[kIcmpHeaderSize + 40] ^= 0x01;  // after the cookie
  auto pkt = WrapV4(ToReplyV4(req), 64);
  ParseResult r = ParseMessage(IpFamily::kV4, true, pkt);
  ASSERT_TRUE(r.message);
  EXPECT_TRUE(r.message->cookie);
  EXPECT_FALSE(r.message->payload_intact);
}

TEST(PacketTest, CorruptCookieIsRejected) {
  auto req = Encode(IpFamily::kV4);
  req[kIcmpHeaderSize + 5] ^= 0x01;  // inside the slot field
  ParseResult r = ParseMessage(IpFamily::kV4, true, WrapV4(ToReplyV4(req), 64));
  ASSERT_TRUE(r.message);
  EXPECT_FALSE(r.message->cookie);
  EXPECT_FALSE(r.message->payload_intact);
}

TEST(PacketTest, TruncatedInputsNeverCrash) {
  auto full = WrapV4(ToReplyV4(Encode(IpFamily::kV4)), 64);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<long>(n));
    ParseResult r = ParseMessage(IpFamily::kV4, true, part);
    if (r.message) {
      EXPECT_FALSE(r.message->cookie && r.message->payload_size > n);
    }
  }
  EXPECT_FALSE(ParseMessage(IpFamily::kV6, false, std::span<const uint8_t>()).message);
}

TEST(PacketTest, BadIpHeaderAndProtocol) {
  auto pkt = WrapV4(ToReplyV4(Encode(IpFamily::kV4)), 64);
  auto bad = pkt;
  bad[0] = 0x4F;  // IHL 60 > packet? still within; make version wrong instead
  bad[0] = 0x65;
  EXPECT_EQ(ParseMessage(IpFamily::kV4, true, bad).error, ParseError::kBadIpHeader);
  auto udp = WrapV4(ToReplyV4(Encode(IpFamily::kV4)), 64, 17);
  EXPECT_EQ(ParseMessage(IpFamily::kV4, true, udp).error, ParseError::kNotIcmp);
}

// An IPv4 ICMP error of `type`/`code` quoting our request to 198.18.0.9, cut to
// `quote_bytes` of ICMP (0: all of it), as a raw socket would deliver it.
std::vector<uint8_t> ErrorAboutOurRequestV4(uint8_t type, uint8_t code, size_t quote_bytes,
                                            uint8_t quoted_type = 8) {
  std::vector<uint8_t> quoted = WrapV4(Encode(IpFamily::kV4), 64);
  if (quote_bytes != 0) quoted.resize(20 + quote_bytes);
  quoted[16] = 198;
  quoted[17] = 18;
  quoted[18] = 0;
  quoted[19] = 9;
  quoted[20] = quoted_type;
  std::vector<uint8_t> err = {type, code, 0, 0, 0, 0, 0, 0};
  err.insert(err.end(), quoted.begin(), quoted.end());
  uint16_t c = InternetChecksum(err);
  err[2] = static_cast<uint8_t>(c >> 8);
  err[3] = static_cast<uint8_t>(c);
  return WrapV4(err, 60);
}

TEST(PacketTest, ErrorQuotingOurRequestIsDecoded) {
  // Destination unreachable (host) quoting IP header + our full request.
  ParseResult r = ParseMessage(IpFamily::kV4, true, ErrorAboutOurRequestV4(3, 1, 0));
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, MessageKind::kError);
  EXPECT_EQ(r.message->error, ErrorReason::kHostUnreachable);
  EXPECT_EQ(r.message->sequence, 7);
  ASSERT_TRUE(r.message->cookie);
  EXPECT_EQ(r.message->cookie->slot, 42u);
  ASSERT_TRUE(r.message->quoted_destination);
  EXPECT_EQ(r.message->quoted_destination->ToString(), "198.18.0.9");
  EXPECT_TRUE(r.message->quotes_echo_request);
}

TEST(PacketTest, ErrorQuotingOnlyEightBytesStillNamesTheRequest) {
  // RFC 792's minimum quote: the IP header and the first 8 bytes (no cookie).
  ParseResult r = ParseMessage(IpFamily::kV4, true, ErrorAboutOurRequestV4(11, 0, kIcmpHeaderSize));
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, MessageKind::kError);
  EXPECT_EQ(r.message->error, ErrorReason::kTtlExceeded);
  EXPECT_TRUE(r.message->quotes_echo_request);
  EXPECT_FALSE(r.message->cookie);
  EXPECT_EQ(r.message->id, 0x1234);
  EXPECT_EQ(r.message->sequence, 7);
  ASSERT_TRUE(r.message->quoted_destination);
  EXPECT_EQ(r.message->quoted_destination->ToString(), "198.18.0.9");
  // A quote of something other than an echo request names no request.
  r = ParseMessage(IpFamily::kV4, true,
                   ErrorAboutOurRequestV4(11, 0, kIcmpHeaderSize, /*timestamp request*/ 13));
  ASSERT_TRUE(r.message);
  EXPECT_FALSE(r.message->quotes_echo_request);
}

TEST(PacketTest, EncodeRefusesSmallPayloadOrBuffer) {
  std::vector<uint8_t> buf(100);
  EXPECT_EQ(EncodeEchoRequest(IpFamily::kV4, 1, 1, SampleCookie(), kCookieSize - 1, buf), 0u);
  EXPECT_EQ(EncodeEchoRequest(IpFamily::kV4, 1, 1, SampleCookie(), 200, buf), 0u);
  EXPECT_EQ(EncodeEchoRequest(IpFamily::kV4, 1, 1, SampleCookie(), kCookieSize, buf),
            kIcmpHeaderSize + kCookieSize);
}

TEST(PacketTest, EchoRequestIsNotAReply) {
  auto pkt = WrapV4(Encode(IpFamily::kV4), 64);
  ParseResult r = ParseMessage(IpFamily::kV4, true, pkt);
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, MessageKind::kOther);
}

}  // namespace
}  // namespace ping_exporter::icmp
