#include "icmp/socket.h"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/icmp.h>
#include <linux/net_tstamp.h>
#include <netinet/icmp6.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include "icmp/packet.h"

namespace ping_exporter::icmp {
namespace {

// Error-queue entries carry the most: SCM_TIMESTAMPNS, SCM_TIMESTAMPING, the
// extended error with an IPv6 address, and IP_TTL.
constexpr size_t kControlSize = 256;
constexpr int kSocketBufferBytes = 4 << 20;

// Newer than Debian 12's kernel headers (Linux 6.13).
#ifndef SCM_TS_OPT_ID
constexpr int SCM_TS_OPT_ID = 81;
#endif
constexpr uint32_t kOptRxFilter = 1u << 17;  // SOF_TIMESTAMPING_OPT_RX_FILTER (Linux 6.12)
constexpr int kMsgProbe = 0x10;              // MSG_PROBE: glibc does not export it
constexpr uint32_t kSendIdFlag = 0x8000'0000u;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool SetInt(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0;
}

// Classic BPF: pass echo replies whose identifier is `id`, and ICMP errors
// (their quoted request is checked in user space); drop everything else, so
// a raw socket does not wake us for every other pinger's traffic.
bool AttachFilter(int fd, IpFamily family, uint16_t id) {
  constexpr uint32_t kAccept = 0xFFFF;
  std::vector<sock_filter> code;
  if (family == IpFamily::kV4) {
    // Raw IPv4 filters see the IP header first: X = its length.
    code = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),         // 0: x = IP header length
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),          // 1: a = icmp type
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),   // 2: echo reply? -> 3 : 5
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),          // 3: a = identifier
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, id, 2, 3),  // 4: ours? -> 7 : 8
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, 1, 0),   // 5: unreachable -> 7 : 6
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 11, 0, 1),  // 6: time exceeded -> 7 : 8
        BPF_STMT(BPF_RET | BPF_K, kAccept),             // 7
        BPF_STMT(BPF_RET | BPF_K, 0),                   // 8
    };
  } else {
    // Raw IPv6 filters see the ICMPv6 header first.
    code = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),           // 0: a = icmp6 type
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 129, 0, 2),  // 1: echo reply? -> 2 : 4
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),           // 2: a = identifier
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, id, 1, 2),   // 3: ours? -> 5 : 6
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 128, 1, 0),  // 4: informational -> 6, errors -> 5
        BPF_STMT(BPF_RET | BPF_K, kAccept),              // 5
        BPF_STMT(BPF_RET | BPF_K, 0),                    // 6
    };
  }
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0;
}

bool ApplyOptions(int fd, IpFamily family, SocketKind kind, const SocketOptions& o) {
  if (family == IpFamily::kV4) {
    if (o.ttl && !SetInt(fd, IPPROTO_IP, IP_TTL, *o.ttl)) return false;
    if (o.tos && !SetInt(fd, IPPROTO_IP, IP_TOS, *o.tos)) return false;
    int pmtu = o.dont_fragment ? IP_PMTUDISC_PROBE : IP_PMTUDISC_DONT;
    if (!SetInt(fd, IPPROTO_IP, IP_MTU_DISCOVER, pmtu)) return false;
    // Raw IPv4 sockets read the TTL from the IP header they deliver.
    if (kind == SocketKind::kDatagram && !SetInt(fd, IPPROTO_IP, IP_RECVTTL, 1)) return false;
  } else {
    if (o.ttl && !SetInt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, *o.ttl)) return false;
    if (o.tos && !SetInt(fd, IPPROTO_IPV6, IPV6_TCLASS, *o.tos)) return false;
    int pmtu = o.dont_fragment ? IPV6_PMTUDISC_PROBE : IPV6_PMTUDISC_DONT;
    if (!SetInt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, pmtu)) return false;
    if (o.dont_fragment && !SetInt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, 1)) return false;
    if (!SetInt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)) return false;
  }
  return true;
}

int TryBind(int fd, IpFamily family, const std::optional<IpAddress>& source, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len;
  if (source) {
    len = source->ToSockaddr(&ss);
  } else if (family == IpFamily::kV4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    len = sizeof *sin6;
  }
  // The "port" of a datagram ICMP socket is its echo identifier.
  if (family == IpFamily::kV4) {
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(port);
  }
  return bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
}

// Asks for a software stamp of every request as it leaves, queued on the error
// queue without the packet (TSONLY) under an id we choose per packet. The
// kernel must accept SCM_TS_OPT_ID: a MSG_PROBE send to loopback parses the
// control message and sends nothing (EINVAL where it is unknown). Any other
// outcome means the control message was accepted. If it is not, stamps are
// switched off again and the caller falls back to user-space send times.
bool EnableSendTimestamps(int fd, IpFamily family) {
  uint32_t flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                   SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
  // RX_FILTER keeps SOFTWARE from adding a second receive stamp to every
  // reply (SO_TIMESTAMPNS gives one already); older kernels lack it.
  if (!SetInt(fd, SOL_SOCKET, SO_TIMESTAMPING, static_cast<int>(flags | kOptRxFilter)) &&
      !SetInt(fd, SOL_SOCKET, SO_TIMESTAMPING, static_cast<int>(flags))) {
    return false;
  }
  std::optional<IpAddress> loopback =
      IpAddress::Parse(family == IpFamily::kV4 ? "127.0.0.1" : "::1");
  sockaddr_storage ss{};
  socklen_t len = loopback->ToSockaddr(&ss);
  uint8_t request[kIcmpHeaderSize] = {family == IpFamily::kV4 ? uint8_t{8} : uint8_t{128}};
  iovec iov{request, sizeof request};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint32_t))] = {};
  msghdr m{};
  m.msg_name = &ss;
  m.msg_namelen = len;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_TS_OPT_ID;
  c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
  if (sendmsg(fd, &m, kMsgProbe) < 0 && errno == EINVAL) {
    SetInt(fd, SOL_SOCKET, SO_TIMESTAMPING, 0);
    return false;
  }
  return true;
}

}  // namespace

int64_t RealtimeNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

const char* SocketKindName(SocketKind k) { return k == SocketKind::kRaw ? "raw" : "datagram"; }

bool DatagramSocketsAllowed(IpFamily family) {
  int fd = socket(family == IpFamily::kV4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC,
                  family == IpFamily::kV4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6});
  Fd owner(fd);
  return owner.valid();
}

Expected<IcmpSocket, std::string> IcmpSocket::Open(IpFamily family, SocketKind kind,
                                                   const SocketOptions& options,
                                                   uint16_t preferred_id) {
  if (options.source && options.source->family() != family) {
    // Raw IPv4 sockets would silently read an IPv6 address as 0.0.0.0.
    return MakeUnexpected(std::string("source address ") + options.source->ToString() +
                          " is not of the target's address family");
  }
  int domain = family == IpFamily::kV4 ? AF_INET : AF_INET6;
  int proto = family == IpFamily::kV4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6};
  int type = (kind == SocketKind::kRaw ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  Fd fd(socket(domain, type, proto));
  if (!fd.valid()) {
    return MakeUnexpected(
        Errno(kind == SocketKind::kRaw ? "raw ICMP socket" : "datagram ICMP socket"));
  }
  int s = fd.get();
  if (!SetInt(s, SOL_SOCKET, SO_TIMESTAMPNS, 1)) return MakeUnexpected(Errno("SO_TIMESTAMPNS"));
  // Bigger buffers absorb the reply bursts of many targets; FORCE needs
  // CAP_NET_ADMIN and silently falls back to the capped size otherwise.
  if (!SetInt(s, SOL_SOCKET, SO_RCVBUFFORCE, kSocketBufferBytes)) {
    SetInt(s, SOL_SOCKET, SO_RCVBUF, kSocketBufferBytes);
  }
  if (!SetInt(s, SOL_SOCKET, SO_SNDBUFFORCE, kSocketBufferBytes)) {
    SetInt(s, SOL_SOCKET, SO_SNDBUF, kSocketBufferBytes);
  }
  if (!ApplyOptions(s, family, kind, options)) return MakeUnexpected(Errno("socket options"));
  if (!options.interface.empty() &&
      setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, options.interface.c_str(),
                 static_cast<socklen_t>(options.interface.size())) != 0) {
    return MakeUnexpected(Errno(("bind to interface " + options.interface).c_str()));
  }
  if (options.fwmark && !SetInt(s, SOL_SOCKET, SO_MARK, static_cast<int>(*options.fwmark))) {
    return MakeUnexpected(Errno("SO_MARK (needs CAP_NET_ADMIN)"));
  }

  uint16_t id = preferred_id;
  if (kind == SocketKind::kRaw) {
    if (family == IpFamily::kV4) {
      // Kernel-side type filter first: only echo reply, unreachable, time exceeded.
      icmp_filter filter{~((1u << 0) | (1u << 3) | (1u << 11))};
      setsockopt(s, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
    } else {
      icmp6_filter filter;
      ICMP6_FILTER_SETBLOCKALL(&filter);
      ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &filter);
      setsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    }
    if (!AttachFilter(s, family, id)) return MakeUnexpected(Errno("BPF filter"));
    // Without IP_RECVERR a raw IPv4 socket reports a packet dropped by a full
    // queue discipline (ENOBUFS) as sent. (Raw IPv6 reports it either way, and
    // there IPV6_RECVERR would only add pending socket errors.)
    if (family == IpFamily::kV4 && !SetInt(s, IPPROTO_IP, IP_RECVERR, 1)) {
      return MakeUnexpected(Errno("IP_RECVERR"));
    }
    if (options.source && TryBind(s, family, options.source, 0) != 0) {
      return MakeUnexpected(Errno("bind source address"));
    }
  } else {
    // ICMP errors about our requests reach datagram sockets only this way.
    bool recverr = family == IpFamily::kV4 ? SetInt(s, IPPROTO_IP, IP_RECVERR, 1)
                                           : SetInt(s, IPPROTO_IPV6, IPV6_RECVERR, 1);
    if (!recverr) return MakeUnexpected(Errno("IP_RECVERR"));
    if (TryBind(s, family, options.source, preferred_id) != 0) {
      if (errno != EADDRINUSE || TryBind(s, family, options.source, 0) != 0) {
        return MakeUnexpected(Errno("bind datagram ICMP socket"));
      }
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(s, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      return MakeUnexpected(Errno("getsockname"));
    }
    id = ntohs(family == IpFamily::kV4 ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  // Last: a datagram socket must be bound before its first send, even a probe.
  bool stamps = EnableSendTimestamps(s, family);
  return IcmpSocket(std::move(fd), family, kind, id, stamps);
}

SendBatch::SendBatch(size_t capacity, size_t max_packet, bool send_ids)
    : capacity_(capacity),
      max_packet_(max_packet),
      buffers_(capacity * max_packet),
      addresses_(capacity),
      iovecs_(capacity),
      headers_(capacity),
      tags_(capacity) {
  if (!send_ids) return;
  controls_.resize(capacity * CMSG_SPACE(sizeof(uint32_t)));
  id_tags_.resize(kSendIdMemory);
  id_of_slot_.resize(kSendIdMemory);
}

std::optional<uint64_t> SendBatch::TagOfSendId(uint32_t send_id) const {
  if (id_tags_.empty() || !(send_id & kSendIdFlag)) return std::nullopt;
  size_t k = send_id % kSendIdMemory;
  if (id_of_slot_[k] != send_id) return std::nullopt;
  return id_tags_[k];
}

std::span<uint8_t> SendBatch::Next() {
  if (full()) return {};
  return {buffers_.data() + count_ * max_packet_, max_packet_};
}

void SendBatch::Commit(size_t packet_size, const IpAddress& destination, uint64_t tag) {
  iovecs_[count_] = {buffers_.data() + count_ * max_packet_, packet_size};
  mmsghdr& h = headers_[count_];
  h = {};
  h.msg_hdr.msg_name = &addresses_[count_];
  h.msg_hdr.msg_namelen = destination.ToSockaddr(&addresses_[count_]);
  h.msg_hdr.msg_iov = &iovecs_[count_];
  h.msg_hdr.msg_iovlen = 1;
  tags_[count_] = tag;
  if (!controls_.empty()) {
    uint32_t id = kSendIdFlag | (next_id_++ & ~kSendIdFlag);
    size_t k = id % kSendIdMemory;
    id_tags_[k] = tag;
    id_of_slot_[k] = id;
    constexpr size_t kSpace = CMSG_SPACE(sizeof(uint32_t));
    h.msg_hdr.msg_control = controls_.data() + count_ * kSpace;
    h.msg_hdr.msg_controllen = kSpace;
    cmsghdr* c = CMSG_FIRSTHDR(&h.msg_hdr);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_TS_OPT_ID;
    c->cmsg_len = CMSG_LEN(sizeof id);
    std::memcpy(CMSG_DATA(c), &id, sizeof id);
  }
  ++count_;
}

void SendBatch::ClearPendingError(int fd) {
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
}

int SendBatch::SendSome(int fd, size_t from) {
  for (;;) {
    int n = sendmmsg(fd, headers_.data() + from, static_cast<unsigned>(count_ - from), 0);
    if (n >= 0) return n == 0 ? -EAGAIN : n;
    if (errno != EINTR) return -errno;
  }
}

ReceiveBatch::ReceiveBatch(size_t capacity, size_t max_packet)
    : capacity_(capacity),
      max_packet_(max_packet),
      buffers_(capacity * max_packet),
      controls_(capacity * kControlSize),
      addresses_(capacity),
      iovecs_(capacity),
      headers_(capacity) {}

int ReceiveBatch::Receive(int fd) { return ReceiveFrom(fd, 0); }

int ReceiveBatch::ReceiveErrors(int fd) { return ReceiveFrom(fd, MSG_ERRQUEUE); }

int ReceiveBatch::ReceiveFrom(int fd, int flags) {
  for (size_t i = 0; i < capacity_; ++i) {
    iovecs_[i] = {buffers_.data() + i * max_packet_, max_packet_};
    mmsghdr& h = headers_[i];
    h = {};
    h.msg_hdr.msg_name = &addresses_[i];
    h.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    h.msg_hdr.msg_iov = &iovecs_[i];
    h.msg_hdr.msg_iovlen = 1;
    h.msg_hdr.msg_control = controls_.data() + i * kControlSize;
    h.msg_hdr.msg_controllen = kControlSize;
  }
  for (;;) {
    int n = recvmmsg(fd, headers_.data(), static_cast<unsigned>(capacity_), MSG_DONTWAIT | flags,
                     nullptr);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}

Received ReceiveBatch::Get(size_t i) const {
  const mmsghdr& h = headers_[i];
  Received r;
  size_t len = h.msg_len;
  // A datagram larger than the buffer was truncated; parse only what we have.
  if (len > max_packet_) len = max_packet_;
  r.data = {buffers_.data() + i * max_packet_, len};
  r.source = reinterpret_cast<const sockaddr*>(&addresses_[i]);
  r.source_len = h.msg_hdr.msg_namelen;
  msghdr m = h.msg_hdr;  // CMSG macros want a non-const header
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      r.kernel_time_ns = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
      int ttl;
      std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      r.ttl = static_cast<uint8_t>(ttl);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      int hops;
      std::memcpy(&hops, CMSG_DATA(c), sizeof hops);
      r.ttl = static_cast<uint8_t>(hops);
    }
  }
  return r;
}

QueuedError ReceiveBatch::GetError(size_t i) const {
  const mmsghdr& h = headers_[i];
  QueuedError out;
  size_t len = std::min<size_t>(h.msg_len, max_packet_);
  out.request = {buffers_.data() + i * max_packet_, len};
  out.destination = IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&addresses_[i]),
                                            h.msg_hdr.msg_namelen);
  int64_t stamp_ns = 0;
  msghdr m = h.msg_hdr;  // CMSG macros want a non-const header
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
      timespec ts[3];  // software, (deprecated), hardware
      std::memcpy(ts, CMSG_DATA(c), sizeof ts);
      stamp_ns = int64_t{ts[0].tv_sec} * 1'000'000'000 + ts[0].tv_nsec;
      continue;
    }
    bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
    bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    out.error = static_cast<int>(ee.ee_errno);
    out.from_icmp = ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6;
    out.is_send_time = ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING;
    out.send_id = ee.ee_data;
    out.type = ee.ee_type;
    out.code = ee.ee_code;
  }
  if (out.is_send_time) out.send_time_ns = stamp_ns;
  return out;
}

}  // namespace ping_exporter::icmp
