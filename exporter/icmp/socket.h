#pragma once
// ICMP echo sockets: unprivileged datagram ICMP where the kernel allows it,
// raw ICMP otherwise, configured once and then used only by one worker.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/expected.h"
#include "common/fd.h"
#include "common/ip_address.h"

namespace ping_exporter::icmp {

enum class SocketKind : uint8_t { kDatagram, kRaw };
const char* SocketKindName(SocketKind k);

/// Per-socket packet options (targets with equal options share a socket).
struct SocketOptions {
  std::optional<uint8_t> ttl;
  std::optional<uint8_t> tos;
  bool dont_fragment = false;
  std::optional<IpAddress> source;  ///< must match the socket's family
  std::string interface;            ///< SO_BINDTODEVICE; empty = any
  std::optional<uint32_t> fwmark;   ///< SO_MARK (needs CAP_NET_ADMIN)
  bool operator==(const SocketOptions&) const = default;
};

/// One open ICMP socket with its echo identifier. Owns its fd; movable, not
/// copyable, not thread-safe (one worker uses it).
class IcmpSocket {
 public:
  /// Opens and configures a socket: non-blocking, kernel receive timestamps,
  /// kernel send timestamps where the kernel can tag each with an id of ours
  /// (SO_TIMESTAMPING, SCM_TS_OPT_ID: Linux 6.13+; see kernel_send_times()),
  /// TTL/hop-limit reporting, the options above, and for raw sockets a BPF
  /// filter that passes only echo replies carrying `preferred_id` plus ICMP
  /// errors. For datagram sockets the kernel owns the identifier: we ask for
  /// `preferred_id` and fall back to any free one. Returns a message on failure.
  static Expected<IcmpSocket, std::string> Open(IpFamily family, SocketKind kind,
                                                const SocketOptions& options,
                                                uint16_t preferred_id);

  IpFamily family() const { return family_; }
  SocketKind kind() const { return kind_; }
  uint16_t echo_id() const { return echo_id_; }
  int fd() const { return fd_.get(); }
  /// The kernel stamps every request when it leaves (SOF_TIMESTAMPING_TX_SOFTWARE)
  /// and queues the stamp on the error queue under the id SendBatch gave it.
  /// False where the kernel cannot: then send times come from the user-space
  /// clock read before each sendmmsg().
  bool kernel_send_times() const { return kernel_send_times_; }
  /// Raw IPv4 sockets deliver the IP header in front of the ICMP message.
  bool delivers_ip_header() const { return kind_ == SocketKind::kRaw && family_ == IpFamily::kV4; }

 private:
  IcmpSocket(Fd fd, IpFamily family, SocketKind kind, uint16_t id, bool kernel_send_times)
      : fd_(std::move(fd)),
        family_(family),
        kind_(kind),
        echo_id_(id),
        kernel_send_times_(kernel_send_times) {}
  Fd fd_;
  IpFamily family_;
  SocketKind kind_;
  uint16_t echo_id_;
  bool kernel_send_times_;
};

/// One entry of a socket's error queue (IP_RECVERR): an ICMP error or a local
/// error about a request we sent, or the kernel's send time of one request.
/// Datagram sockets learn of ICMP errors only this way; raw IPv4 sockets queue
/// them too (IP_RECVERR is set so that a full queue discipline reports
/// ENOBUFS) but also read them as ordinary messages.
struct QueuedError {
  std::span<const uint8_t> request;      ///< our request as sent, ICMP header first (may be cut)
  std::optional<IpAddress> destination;  ///< where that request went, if the kernel says
  bool from_icmp = false;                ///< an ICMP error message (else a local error)
  uint8_t type = 0, code = 0;            ///< ICMP type/code when from_icmp
  int error = 0;                         ///< the errno the kernel mapped it to
  /// Not an error: the kernel's send stamp of the request SendBatch gave
  /// `send_id` (see SendBatch::TagOfSendId()), taken at `send_time_ns`
  /// (CLOCK_REALTIME, like receive stamps).
  bool is_send_time = false;
  uint32_t send_id = 0;
  int64_t send_time_ns = 0;
};

/// Whether this process may open datagram ICMP sockets (ping_group_range).
bool DatagramSocketsAllowed(IpFamily family);

/// Preallocated buffers for one sendmmsg() call. Not thread-safe.
class SendBatch {
 public:
  /// With `send_ids`, every packet carries an SCM_TS_OPT_ID control message
  /// (for a socket with kernel_send_times()), so its kernel send stamp can be
  /// traced back to its tag.
  SendBatch(size_t capacity, size_t max_packet, bool send_ids = false);
  /// Space for the next packet, or empty when full. Commit() after writing.
  std::span<uint8_t> Next();
  void Commit(size_t packet_size, const IpAddress& destination, uint64_t tag);
  /// The tag of the packet sent with `send_id`, if it is among the last
  /// kSendIdMemory packets this batch sent (stamps normally come back within
  /// the same flush).
  std::optional<uint64_t> TagOfSendId(uint32_t send_id) const;
  static constexpr size_t kSendIdMemory = 4096;
  size_t size() const { return count_; }
  bool full() const { return count_ == capacity_; }
  /// The packets written so far, with their tags (for tests that send nothing).
  std::span<const uint8_t> packet(size_t i) const {
    return {buffers_.data() + i * max_packet_, iovecs_[i].iov_len};
  }
  uint64_t tag(size_t i) const { return tags_[i]; }
  /// Drops every packet without sending it.
  void Clear() { count_ = 0; }
  /// Sends everything with as few syscalls as possible. Around each
  /// sendmmsg() it reads `now()` (nanoseconds, the caller's clock), then calls
  /// on_sent(tags, before_ns, after_ns) once for the packets that call sent,
  /// and on_error(tag, errno) for each packet that could not be sent. Clears
  /// the batch. (The packets of one call leave one after another between the
  /// two readings; kernel send stamps, where the socket has them, say when.)
  ///
  /// An ICMP error leaves a pending error on the socket that the kernel hands
  /// to whichever send comes next, failing a request that has nothing to do
  /// with it. Our ICMP errors are read from the messages or the error queue,
  /// so the pending copy is cleared before each sendmmsg() -- except right
  /// after one that stopped early: the kernel parks the error of the packet
  /// that stopped it there, and the next call reports it for that packet.
  template <typename Now, typename OnSent, typename OnError>
  size_t Flush(int fd, Now&& now, OnSent&& on_sent, OnError&& on_error);

 private:
  int SendSome(int fd, size_t from);
  static void ClearPendingError(int fd);
  size_t capacity_;
  size_t max_packet_;
  size_t count_ = 0;
  std::vector<uint8_t> buffers_;
  std::vector<sockaddr_storage> addresses_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
  std::vector<uint64_t> tags_;
  // Send ids: a running number with the top bit set, so a kernel that ignored
  // SCM_TS_OPT_ID and counted on its own (from 0) is never mistaken for us.
  std::vector<uint8_t> controls_;     // one SCM_TS_OPT_ID message per packet
  std::vector<uint64_t> id_tags_;     // tag of send id k at k % kSendIdMemory
  std::vector<uint32_t> id_of_slot_;  // which send id that entry belongs to
  uint32_t next_id_ = 0;
};

/// One received datagram as the kernel handed it over.
struct Received {
  std::span<const uint8_t> data;
  const sockaddr* source = nullptr;
  socklen_t source_len = 0;
  int64_t kernel_time_ns = 0;  ///< SO_TIMESTAMPNS (CLOCK_REALTIME); 0 if absent
  std::optional<uint8_t> ttl;  ///< IP_TTL / IPV6_HOPLIMIT control message
};

/// Preallocated buffers for recvmmsg(). Not thread-safe.
class ReceiveBatch {
 public:
  ReceiveBatch(size_t capacity, size_t max_packet);
  /// Reads up to capacity datagrams without blocking; returns how many
  /// (0 when nothing is queued, -errno on a real error).
  int Receive(int fd);
  Received Get(size_t i) const;
  /// The same from the socket's error queue; read each with GetError().
  int ReceiveErrors(int fd);
  QueuedError GetError(size_t i) const;

 private:
  int ReceiveFrom(int fd, int flags);
  size_t capacity_;
  size_t max_packet_;
  std::vector<uint8_t> buffers_;
  std::vector<uint8_t> controls_;
  std::vector<sockaddr_storage> addresses_;
  std::vector<iovec> iovecs_;
  std::vector<mmsghdr> headers_;
};

/// CLOCK_REALTIME in nanoseconds: the clock kernel receive timestamps use.
int64_t RealtimeNanos();
/// CLOCK_MONOTONIC in nanoseconds (the clock of std::chrono::steady_clock):
/// send and receive times are kept on it so a wall-clock step cannot bend an RTT.
int64_t MonotonicNanos();

template <typename Now, typename OnSent, typename OnError>
size_t SendBatch::Flush(int fd, Now&& now, OnSent&& on_sent, OnError&& on_error) {
  size_t sent = 0;
  size_t i = 0;
  bool stopped_early = false;
  while (i < count_) {
    if (!stopped_early) ClearPendingError(fd);
    int64_t before_ns = now();
    int n = SendSome(fd, i);
    if (n > 0) {
      on_sent(std::span<const uint64_t>(tags_.data() + i, static_cast<size_t>(n)), before_ns,
              now());
      sent += static_cast<size_t>(n);
      i += static_cast<size_t>(n);
      stopped_early = i < count_;
    } else {
      // The packet at i failed: report it and go on with the rest.
      on_error(tags_[i], -n);
      ++i;
      stopped_early = false;
    }
  }
  count_ = 0;
  return sent;
}

}  // namespace ping_exporter::icmp
