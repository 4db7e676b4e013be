#include "metrics/store.h"

#include <cerrno>
#include <cstring>

namespace ping_exporter::metrics {
namespace {

void AppendLabel(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  out += EscapeLabelValue(value);
  out += '"';
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* SendErrorName(SendError e) {
  switch (e) {
    case SendError::kNetworkUnreachable:
      return "network_unreachable";
    case SendError::kHostUnreachable:
      return "host_unreachable";
    case SendError::kProhibited:
      return "prohibited";
    case SendError::kTtlExceeded:
      return "ttl_exceeded";
    case SendError::kNoBuffer:
      return "no_buffer";
    case SendError::kPermission:
      return "permission";
    case SendError::kMessageTooLong:
      return "message_too_long";
    case SendError::kResolve:
      return "resolve";
    case SendError::kOther:
    case SendError::kCount_:
      break;
  }
  return "other";
}

SendError SendErrorFromErrno(int err) {
  switch (err) {
    case ENETUNREACH:
    case ENETDOWN:
      return SendError::kNetworkUnreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN:
      return SendError::kHostUnreachable;
    case EPERM:
    case EACCES:
      return SendError::kPermission;
    case ENOBUFS:
    case ENOMEM:
    case EAGAIN:
      return SendError::kNoBuffer;
    case EMSGSIZE:
      return SendError::kMessageTooLong;
    default:
      return SendError::kOther;
  }
}

SharedLabels::SharedLabels(List labels)
    : p_(labels.empty() ? nullptr : std::make_shared<const List>(std::move(labels))) {}

SharedLabels::SharedLabels(std::shared_ptr<const List> labels) : p_(std::move(labels)) {}

const SharedLabels::List& SharedLabels::list() const {
  static const List kNone;
  return p_ ? *p_ : kNone;
}

std::string RenderLabels(const TargetInfo& info) {
  std::string out;
  ForEachLabel(
      info, [&](std::string_view name, std::string_view value) { AppendLabel(out, name, value); });
  return out;
}

TargetStats::TargetStats(std::shared_ptr<const SeriesOptions> options)
    : options_(std::move(options)) {
  if (options_ && options_->classic()) bounds_ = options_->rtt_buckets;
  buckets_.reset(new std::atomic<uint64_t>[bounds_.size() + 1]);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
  StoreDouble(jitter_, -1);
  if (options_ && options_->native()) {
    native_ =
        std::make_unique<NativeBuckets>(options_->native_schema, options_->native_zero_threshold);
  }
}

void TargetStats::StoreDouble(std::atomic<uint64_t>& a, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  a.store(bits, std::memory_order_relaxed);
}

double TargetStats::LoadDouble(const std::atomic<uint64_t>& a) {
  uint64_t bits = a.load(std::memory_order_relaxed);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

void TargetStats::Publish(const PublishedRound& r) {
  uint64_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  has_round_.store(1, std::memory_order_relaxed);
  round_sent_.store(r.sent, std::memory_order_relaxed);
  round_received_.store(r.received, std::memory_order_relaxed);
  StoreDouble(rtt_min_, r.rtt_min);
  StoreDouble(rtt_avg_, r.rtt_avg);
  StoreDouble(rtt_max_, r.rtt_max);
  StoreDouble(rtt_stddev_, r.rtt_stddev);
  if (r.reply_ttl >= 0)
    reply_ttl_.store(static_cast<uint64_t>(r.reply_ttl) + 1, std::memory_order_relaxed);
  StoreDouble(last_round_time_, r.completed_at);
  StoreDouble(jitter_, r.jitter);
  sent_total_.store(sent_total_.load(std::memory_order_relaxed) + r.sent,
                    std::memory_order_relaxed);
  received_total_.store(received_total_.load(std::memory_order_relaxed) + r.received,
                        std::memory_order_relaxed);
  double sum = LoadDouble(rtt_sum_);
  for (double v : r.rtts) {
    size_t b = 0;
    while (b < bounds_.size() && v > bounds_[b]) ++b;
    buckets_[b].store(buckets_[b].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (native_) native_->Observe(v);
    sum += v;
  }
  StoreDouble(rtt_sum_, sum);
  rtt_count_.store(rtt_count_.load(std::memory_order_relaxed) + r.rtts.size(),
                   std::memory_order_relaxed);
  seq_.store(s + 2, std::memory_order_release);
}

// The sequence lock's read side: retry `read` until no publish overlapped it.
template <typename F>
void TargetStats::ReadConsistent(F&& read) const {
  for (;;) {
    uint64_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 & 1) continue;  // a publish is in progress: it takes microseconds
    read();
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) == s1) return;
  }
}

void TargetStats::Read(TargetSnapshot* out) const {
  out->buckets.resize(bounds_.size() + 1);
  ReadConsistent([&] {
    out->has_round = has_round_.load(std::memory_order_relaxed) != 0;
    out->round_sent = static_cast<uint32_t>(round_sent_.load(std::memory_order_relaxed));
    out->round_received = static_cast<uint32_t>(round_received_.load(std::memory_order_relaxed));
    out->rtt_min = LoadDouble(rtt_min_);
    out->rtt_avg = LoadDouble(rtt_avg_);
    out->rtt_max = LoadDouble(rtt_max_);
    out->rtt_stddev = LoadDouble(rtt_stddev_);
    out->reply_ttl = static_cast<int32_t>(reply_ttl_.load(std::memory_order_relaxed)) - 1;
    out->last_round_time = LoadDouble(last_round_time_);
    out->jitter = LoadDouble(jitter_);
    out->sent_total = sent_total_.load(std::memory_order_relaxed);
    out->received_total = received_total_.load(std::memory_order_relaxed);
    out->rtt_sum = LoadDouble(rtt_sum_);
    out->rtt_count = rtt_count_.load(std::memory_order_relaxed);
    uint64_t running = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      out->buckets[i] = running;
    }
    if (native_) native_->Read(&out->native);
  });
  out->duplicates = duplicates_.load(std::memory_order_relaxed);
  out->late = late_.load(std::memory_order_relaxed);
  out->invalid = invalid_.load(std::memory_order_relaxed);
  out->out_of_order = out_of_order_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kSendErrorCount; ++i) {
    out->send_errors[i] = send_errors_[i].load(std::memory_order_relaxed);
  }
}

void TargetStats::ReadCounters(TargetCounters* out) const {
  ReadConsistent([&] {
    out->has_round = has_round_.load(std::memory_order_relaxed) != 0;
    out->round_sent = static_cast<uint32_t>(round_sent_.load(std::memory_order_relaxed));
    out->round_received = static_cast<uint32_t>(round_received_.load(std::memory_order_relaxed));
    out->last_round_time = LoadDouble(last_round_time_);
    out->sent_total = sent_total_.load(std::memory_order_relaxed);
    out->received_total = received_total_.load(std::memory_order_relaxed);
    out->rtt_sum = LoadDouble(rtt_sum_);
    out->rtt_count = rtt_count_.load(std::memory_order_relaxed);
  });
}

TargetEntry TargetEntry::Make(TargetInfo info, std::shared_ptr<const SeriesOptions> options) {
  if (info.label_text.empty()) info.label_text = RenderLabels(info);
  return TargetEntry{std::make_shared<const TargetInfo>(std::move(info)),
                     std::make_shared<TargetStats>(std::move(options))};
}

ResultStore::ResultStore() : targets_(std::make_shared<TargetList>()) {}

void ResultStore::Replace(std::shared_ptr<const TargetList> targets) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_ = std::move(targets);
}

std::shared_ptr<const ResultStore::TargetList> ResultStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

}  // namespace ping_exporter::metrics
