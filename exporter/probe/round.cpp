#include "probe/round.h"

#include <algorithm>
#include <cmath>

namespace ping_exporter::probe {

Round::Round(uint32_t count)
    : count_(std::clamp<uint32_t>(count, 1, kMaxCount)),
      times_(std::make_unique<int64_t[]>(3 * size_t{count_})) {}

void Round::Begin(uint16_t first_seq) {
  active_ = true;
  first_seq_ = first_seq;
  sent_ = 0;
  received_ = 0;
  answered_ = 0;
  send_failed_ = 0;
}

void Round::OnSent(int64_t send_ns, bool ok) {
  if (!active_ || sent_ >= count_) return;
  SendAt(sent_) = send_ns;
  CookieAt(sent_) = send_ns;
  if (!ok) send_failed_ |= uint64_t{1} << sent_;
  ++sent_;
}

bool Round::SetSendTime(uint16_t seq, int64_t send_ns) {
  uint32_t i = 0;
  if (!active_ || !InCurrent(seq, &i)) return false;
  SendAt(i) = send_ns;
  return true;
}

void Round::MarkFailed(uint16_t seq) {
  uint32_t i = 0;
  if (active_ && InCurrent(seq, &i)) send_failed_ |= uint64_t{1} << i;
}

bool Round::Sent(uint16_t seq) const {
  uint32_t i = 0;
  uint64_t bit = 0;
  return (active_ && InCurrent(seq, &i)) || InHistory(seq, &bit);
}

bool Round::SendFailed(uint16_t seq) const {
  uint32_t i = 0;
  if (active_ && InCurrent(seq, &i)) return (send_failed_ >> i) & 1;
  uint64_t bit = 0;
  return InHistory(seq, &bit) && (hist_failed_ & bit);
}

bool Round::InHistory(uint16_t seq, uint64_t* bit) const {
  uint16_t back = static_cast<uint16_t>(hist_end_ - seq);  // 1 = the newest
  if (back == 0 || back > kHistory) return false;
  *bit = uint64_t{1} << (kHistory - back);
  return (hist_sent_ & *bit) != 0;
}

bool Round::InCurrent(uint16_t seq, uint32_t* index) const {
  uint16_t offset = static_cast<uint16_t>(seq - first_seq_);
  if (offset >= sent_) return false;
  *index = offset;
  return true;
}

Verdict Round::OnReply(uint16_t seq, int64_t receive_ns, Duration* rtt) {
  uint32_t i = 0;
  int64_t cookie = active_ && InCurrent(seq, &i) ? CookieAt(i) : 0;
  return OnReply(seq, receive_ns, cookie, rtt);
}

Verdict Round::OnReply(uint16_t seq, int64_t receive_ns, int64_t cookie_ns, Duration* rtt) {
  uint32_t i = 0;
  if (active_ && InCurrent(seq, &i)) {
    if (cookie_ns != CookieAt(i)) return Verdict::kUnknown;
    uint64_t bit = uint64_t{1} << i;
    if (answered_ & bit) return Verdict::kDuplicate;
    // A reply to a request whose send failed cannot be ours.
    if (send_failed_ & bit) return Verdict::kUnknown;
    answered_ |= bit;
    ++received_;
    // Kernel receive time minus send time; a stepped wall clock could make it
    // negative, which we clamp rather than report nonsense.
    int64_t d = std::max<int64_t>(receive_ns - SendAt(i), 0);
    RttAt(i) = d;
    if (rtt) *rtt = Duration(d);
    return Verdict::kCounted;
  }
  uint64_t bit = 0;
  if (!InHistory(seq, &bit)) return Verdict::kUnknown;
  // As in the current round: a request whose send failed has no reply.
  if (hist_failed_ & bit) return Verdict::kUnknown;
  if (hist_settled_ & bit) return Verdict::kDuplicate;
  hist_settled_ |= bit;
  return Verdict::kLate;
}

void Round::Finish(RoundResult* out) {
  out->sent = sent_;
  out->received = received_;
  out->rtts.clear();
  double sum = 0, sumsq = 0, lo = 0, hi = 0;
  for (uint32_t i = 0; i < sent_; ++i) {
    if (!(answered_ & (uint64_t{1} << i))) continue;
    double s = static_cast<double>(RttAt(i)) / 1e9;
    if (out->rtts.empty() || s < lo) lo = s;
    if (out->rtts.empty() || s > hi) hi = s;
    sum += s;
    sumsq += s * s;
    out->rtts.push_back(s);
  }
  if (!out->rtts.empty()) {
    double n = static_cast<double>(out->rtts.size());
    double mean = sum / n;
    out->rtt_min = lo;
    out->rtt_max = hi;
    out->rtt_avg = mean;
    out->rtt_stddev = std::sqrt(std::max(0.0, sumsq / n - mean * mean));
  } else {
    out->rtt_min = out->rtt_avg = out->rtt_max = out->rtt_stddev = 0;
  }
  // The round joins the history: the window moves on to its end, and its
  // requests take the newest sent_ bits.
  uint16_t end = static_cast<uint16_t>(first_seq_ + sent_);
  uint32_t shift = static_cast<uint16_t>(end - hist_end_);
  auto older = [shift](uint64_t v) { return shift >= kHistory ? 0 : v >> shift; };
  hist_sent_ = older(hist_sent_);
  hist_failed_ = older(hist_failed_);
  hist_settled_ = older(hist_settled_);
  if (sent_ > 0) {
    uint64_t mask = sent_ >= 64 ? ~uint64_t{0} : (uint64_t{1} << sent_) - 1;
    uint32_t base = kHistory - sent_;
    hist_sent_ |= mask << base;
    hist_failed_ |= (send_failed_ & mask) << base;
    hist_settled_ |= ((answered_ | send_failed_) & mask) << base;
  }
  hist_end_ = end;
  active_ = false;
}

}  // namespace ping_exporter::probe
