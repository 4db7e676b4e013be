#include "icmp/socket.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "icmp/packet.h"

namespace ping_exporter::icmp {
namespace {

constexpr uint64_t kToken = 0x1122334455667788ull;

// Sends one echo request to `dst` on `s` and waits up to 2 s for our reply.
// Returns the decoded reply (empty optional on timeout).
struct ReplyMeta {
  std::optional<IpAddress> source;
  int64_t kernel_time_ns = 0;
  std::optional<uint8_t> ttl;
};

std::optional<Message> EchoOnce(const IcmpSocket& s, const IpAddress& dst, ReplyMeta* raw_out) {
  SendBatch send(4, 128);
  std::span<uint8_t> buf = send.Next();
  Cookie c{5, 99, 0, RealtimeNanos(), kToken};
  size_t n = EncodeEchoRequest(s.family(), s.echo_id(), 99, c, 56, buf);
  send.Commit(n, dst, 1);
  int errors = 0;
  size_t sent = send.Flush(
      s.fd(), MonotonicNanos, [](std::span<const uint64_t>, int64_t, int64_t) {},
      [&](uint64_t, int) { ++errors; });
  EXPECT_EQ(sent, 1u);
  EXPECT_EQ(errors, 0);
  ReceiveBatch recv(8, 512);
  for (int attempt = 0; attempt < 20; ++attempt) {
    pollfd p{s.fd(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int got = recv.Receive(s.fd());
    for (int i = 0; i < got; ++i) {
      Received r = recv.Get(static_cast<size_t>(i));
      ParseResult pr = ParseMessage(s.family(), s.delivers_ip_header(), r.data);
      if (pr.message && pr.message->kind == MessageKind::kEchoReply && pr.message->cookie &&
          pr.message->cookie->token == kToken) {
        raw_out->source = IpAddress::FromSockaddr(r.source, r.source_len);
        raw_out->kernel_time_ns = r.kernel_time_ns;
        raw_out->ttl = r.ttl;
        return pr.message;
      }
    }
  }
  return std::nullopt;
}

void ExpectEcho(IpFamily family, SocketKind kind, const char* address) {
  auto s = IcmpSocket::Open(family, kind, SocketOptions{}, 0x4242);
  ASSERT_TRUE(s) << s.error();
  ReplyMeta raw;
  auto reply = EchoOnce(*s, *IpAddress::Parse(address), &raw);
  ASSERT_TRUE(reply) << "no reply from " << address;
  EXPECT_EQ(reply->sequence, 99);
  EXPECT_EQ(reply->cookie->slot, 5u);
  EXPECT_TRUE(reply->payload_intact);
  EXPECT_EQ(raw.source, IpAddress::Parse(address));
  EXPECT_GT(raw.kernel_time_ns, 0) << "no SO_TIMESTAMPNS control message";
  EXPECT_TRUE(reply->ttl || raw.ttl) << "no TTL / hop limit";
  if (kind == SocketKind::kRaw) {
    EXPECT_EQ(s->echo_id(), 0x4242);
  }
}

bool IsRoot() { return geteuid() == 0; }

TEST(SocketTest, RawEchoV4OnLoopback) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  ExpectEcho(IpFamily::kV4, SocketKind::kRaw, "127.0.0.1");
}

TEST(SocketTest, RawEchoV6OnLoopback) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  ExpectEcho(IpFamily::kV6, SocketKind::kRaw, "::1");
}

TEST(SocketTest, RawFilterDropsOtherIdentifiers) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  auto listener = IcmpSocket::Open(IpFamily::kV4, SocketKind::kRaw, SocketOptions{}, 0x1111);
  auto sender = IcmpSocket::Open(IpFamily::kV4, SocketKind::kRaw, SocketOptions{}, 0x2222);
  ASSERT_TRUE(listener && sender);
  ReplyMeta raw;
  ASSERT_TRUE(EchoOnce(*sender, *IpAddress::Parse("127.0.0.1"), &raw));
  // The reply to 0x2222 has been delivered by now; 0x1111's filter dropped it.
  ReceiveBatch recv(8, 512);
  EXPECT_EQ(recv.Receive(listener->fd()), 0);
}

// Sends three requests to `dst` in one batch and reads the kernel's send
// stamps back: each names its request by the id SendBatch gave it and lies
// between the clock readings around the sendmmsg(). Returns how many came back.
// (The socket stamps every send: earlier ones without an id may be queued too.)
int StampedSends(const IcmpSocket& s, const IpAddress& dst) {
  SendBatch send(4, 128, true);
  for (uint16_t seq = 0; seq < 3; ++seq) {
    Cookie c{5, seq, 0, 0, kToken};
    size_t n = EncodeEchoRequest(s.family(), s.echo_id(), seq, c, 56, send.Next());
    send.Commit(n, dst, 100 + seq);
  }
  int64_t before = RealtimeNanos();
  EXPECT_EQ(send.Flush(
                s.fd(), MonotonicNanos, [](std::span<const uint64_t>, int64_t, int64_t) {},
                [](uint64_t, int) {}),
            3u);
  int64_t after = RealtimeNanos();
  std::vector<uint64_t> tags;
  ReceiveBatch errors(8, 512);
  for (int attempt = 0; attempt < 20 && tags.size() < 3; ++attempt) {
    pollfd p{s.fd(), 0, 0};  // the error queue shows as POLLERR
    if (poll(&p, 1, 100) <= 0) continue;
    int got = errors.ReceiveErrors(s.fd());
    for (int i = 0; i < got; ++i) {
      QueuedError e = errors.GetError(static_cast<size_t>(i));
      if (!e.is_send_time) continue;
      // Stamps of earlier sends without ids (the kernel's own count) name nothing.
      std::optional<uint64_t> tag = send.TagOfSendId(e.send_id);
      if (!tag) continue;
      EXPECT_GE(e.send_time_ns, before);
      EXPECT_LE(e.send_time_ns, after);
      tags.push_back(*tag);
    }
  }
  EXPECT_EQ(tags, (std::vector<uint64_t>{100, 101, 102}));
  // Ids the batch never gave out, or a kernel counting on its own, name nothing.
  EXPECT_FALSE(send.TagOfSendId(0));
  EXPECT_FALSE(send.TagOfSendId(1));
  return static_cast<int>(tags.size());
}

TEST(SocketTest, KernelSendStampsNameTheirRequest) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    auto s = IcmpSocket::Open(f, SocketKind::kRaw, SocketOptions{}, 0x4444);
    ASSERT_TRUE(s) << s.error();
    if (!s->kernel_send_times()) GTEST_SKIP() << "kernel without SCM_TS_OPT_ID (Linux < 6.13)";
    EXPECT_EQ(StampedSends(*s, *IpAddress::Parse(f == IpFamily::kV4 ? "127.0.0.1" : "::1")), 3);
  }
}

// Datagram ICMP needs net.ipv4.ping_group_range to include our group; do it
// in a private network namespace so the host's setting is untouched.
TEST(SocketTest, DatagramEchoInPrivateNamespace) {
  if (!IsRoot()) GTEST_SKIP() << "creating a network namespace needs root";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(10);
    std::ofstream("/proc/sys/net/ipv4/ping_group_range") << "0 2147483647";
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) _exit(11);
    close(fd);
    if (!DatagramSocketsAllowed(IpFamily::kV4)) _exit(12);
    for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
      auto s = IcmpSocket::Open(f, SocketKind::kDatagram, SocketOptions{}, 0x4343);
      if (!s) _exit(13);
      ReplyMeta raw;
      auto reply = EchoOnce(*s, *IpAddress::Parse(f == IpFamily::kV4 ? "127.0.0.1" : "::1"), &raw);
      if (!reply || reply->id != s->echo_id() || raw.kernel_time_ns == 0 || !raw.ttl) _exit(14);
      // Datagram sockets stamp sends too (where the kernel has SCM_TS_OPT_ID).
      if (s->kernel_send_times() &&
          StampedSends(*s, *IpAddress::Parse(f == IpFamily::kV4 ? "127.0.0.1" : "::1")) != 3) {
        _exit(16);
      }
    }
    _exit(::testing::Test::HasFailure() ? 15 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child step failed (see codes in the test)";
}

TEST(SocketTest, SourceAddressOfOtherFamilyFails) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  SocketOptions o;
  o.source = IpAddress::Parse("::1");
  auto s = IcmpSocket::Open(IpFamily::kV4, SocketKind::kRaw, o, 1);
  EXPECT_FALSE(s);
}

}  // namespace
}  // namespace ping_exporter::icmp
