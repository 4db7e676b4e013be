#pragma once
// One round of echo requests to one target: which were sent, which came back,
// and the verdict on every reply. Pure logic; all times are passed in.

#include <cstdint>
#include <memory>
#include <vector>

#include "common/duration.h"

namespace ping_exporter::probe {

/// How a reply was judged.
enum class Verdict : uint8_t {
  kCounted,    ///< first valid reply to a request of the current round
  kDuplicate,  ///< a second reply to a request already answered
  kLate,       ///< a reply to a request of a round that is over (one of the last kHistory)
  kUnknown,    ///< matches no request we have in memory
};

/// The final state of a completed round.
struct RoundResult {
  uint32_t sent = 0;
  uint32_t received = 0;
  double rtt_min = 0, rtt_avg = 0, rtt_max = 0, rtt_stddev = 0;  ///< seconds; 0 if none
  std::vector<double> rtts;  ///< seconds, one per counted reply (capacity reused)
};

/// State of the current round of one target and what is left of the rounds
/// before it: which of the last kHistory requests were sent, failed, or are
/// settled (answered in time, or already counted late), so a reply that comes
/// rounds late (seconds of bufferbloat) is told apart from an invalid one.
/// Single-threaded (owned by one worker); allocates only in the constructor
/// (once). Movable, not copyable.
class Round {
 public:
  static constexpr uint32_t kMaxCount = 64;
  /// Requests before the current round that a late reply can still be matched to.
  static constexpr uint32_t kHistory = 64;
  static_assert(kMaxCount <= kHistory, "a whole round must fit into the history");

  explicit Round(uint32_t count);

  /// Starts a round whose requests use sequences first_seq, first_seq+1, ...
  /// The previous round, if still open, must have been Finish()ed.
  void Begin(uint16_t first_seq);
  bool active() const { return active_; }
  uint32_t count() const { return count_; }
  uint32_t sent() const { return sent_; }
  uint32_t received() const { return received_; }
  /// Sequence of the next request to send.
  uint16_t next_sequence() const { return static_cast<uint16_t>(first_seq_ + sent_); }
  bool all_sent() const { return sent_ == count_; }
  /// Every request sent and answered: the result is final before the timeout.
  bool complete() const { return active_ && sent_ == count_ && received_ == count_; }

  /// Records that request `next_sequence()` left at `send_ns` (realtime).
  /// `ok` false means the send failed: it counts as sent and lost.
  void OnSent(int64_t send_ns, bool ok);

  /// Corrects the send time of request `seq` of this round (set once the
  /// batch holding it actually went out, then to the kernel's stamp). False
  /// if `seq` is not a request of the active round.
  bool SetSendTime(uint16_t seq, int64_t send_ns);
  /// Marks request `seq` of this round as not sent (a send error).
  void MarkFailed(uint16_t seq);
  /// Whether request `seq` of the current round or of the history went out
  /// or was attempted: an ICMP error quoting it may be about it.
  bool Sent(uint16_t seq) const;
  /// Whether sending request `seq` of the current round or of the history
  /// failed (that failure is already counted as a send error).
  bool SendFailed(uint16_t seq) const;

  /// Judges a reply with sequence `seq` received at `receive_ns` (realtime)
  /// whose cookie carries `cookie_ns`, the send time written into the request.
  /// A reply to a current request with another cookie time is a replay of an
  /// older request with the same (wrapped) sequence: kUnknown.
  /// For kCounted, *rtt is set to the round-trip time.
  Verdict OnReply(uint16_t seq, int64_t receive_ns, Duration* rtt);
  Verdict OnReply(uint16_t seq, int64_t receive_ns, int64_t cookie_ns, Duration* rtt);

  /// Ends the round; later replies to it are kLate. Fills `out`.
  void Finish(RoundResult* out);

  /// Asks the CPU to fetch the per-request times into cache (a hint, no effect otherwise).
  void Prefetch() const { __builtin_prefetch(times_.get()); }

 private:
  bool InCurrent(uint16_t seq, uint32_t* index) const;
  /// Bit of `seq` in the history words, if it is one of the requests there.
  bool InHistory(uint16_t seq, uint64_t* bit) const;
  uint32_t count_;
  bool active_ = false;
  uint16_t first_seq_ = 0;
  uint32_t sent_ = 0;
  uint32_t received_ = 0;
  uint64_t answered_ = 0;     ///< bit i: request i answered
  uint64_t send_failed_ = 0;  ///< bit i: request i could not be sent
  // One allocation for three arrays of count_ entries: send time, send time
  // as written into each request (cookie), RTT. A worker has one Round per
  // target, so this is 100 000 allocations at scale, not 300 000.
  std::unique_ptr<int64_t[]> times_;
  int64_t& SendAt(uint32_t i) { return times_[i]; }
  int64_t& CookieAt(uint32_t i) { return times_[count_ + i]; }
  int64_t CookieAt(uint32_t i) const { return times_[count_ + i]; }
  int64_t& RttAt(uint32_t i) { return times_[2 * count_ + i]; }
  int64_t RttAt(uint32_t i) const { return times_[2 * count_ + i]; }
  // The kHistory sequences before hist_end_, oldest first: bit k is sequence
  // hist_end_ - kHistory + k. Finish() moves the round in.
  uint16_t hist_end_ = 0;
  uint64_t hist_sent_ = 0;
  uint64_t hist_failed_ = 0;
  uint64_t hist_settled_ = 0;  // answered in time, counted late, or failed
};

}  // namespace ping_exporter::probe
