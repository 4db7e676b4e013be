#include "metrics/text_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace ping_exporter::metrics {
namespace {

constexpr size_t kBufferSize = 256 * 1024;
// Room one sample line may need: labels are bounded by the config validation
// (names and values), anything longer goes through PutLong().
constexpr size_t kLineRoom = 1024;

/// A fixed buffer written through a raw pointer: a scrape appends ~2 million
/// small pieces, and std::string::append's per-call checks dominate otherwise.
class Buffer {
 public:
  explicit Buffer(const TextSink& sink) : sink_(sink), data_(new char[kBufferSize]) {}
  ~Buffer() { Flush(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  /// Makes sure `n` more bytes fit without a check per piece.
  void Room(size_t n) {
    if (used_ + n > kBufferSize) Flush();
  }
  void Put(std::string_view s) {
    if (s.size() > kLineRoom) {
      Flush();
      sink_(s);
      return;
    }
    Room(s.size());
    std::memcpy(data_.get() + used_, s.data(), s.size());
    used_ += s.size();
  }
  void Put(char c) { data_[used_++] = c; }  // callers reserved Room()
  void PutUint(uint64_t v) {
    auto r = std::to_chars(data_.get() + used_, data_.get() + kBufferSize, v);
    used_ = static_cast<size_t>(r.ptr - data_.get());
  }
  void PutDouble(double v) {
    if (std::isnan(v)) {
      Put(std::string_view("NaN"));
    } else if (std::isinf(v)) {
      Put(v > 0 ? std::string_view("+Inf") : std::string_view("-Inf"));
    } else {
      auto r = std::to_chars(data_.get() + used_, data_.get() + kBufferSize, v);
      used_ = static_cast<size_t>(r.ptr - data_.get());
    }
  }
  void Flush() {
    if (used_ > 0) sink_(std::string_view(data_.get(), used_));
    used_ = 0;
  }

 private:
  const TextSink& sink_;
  std::unique_ptr<char[]> data_;
  size_t used_ = 0;
};

void Header(Buffer& b, std::string_view name, std::string_view type, std::string_view help) {
  b.Room(64 + 2 * name.size() + help.size());
  b.Put("# HELP ");
  b.Put(name);
  b.Put(' ');
  b.Put(help);
  b.Put("\n# TYPE ");
  b.Put(name);
  b.Put(' ');
  b.Put(type);
  b.Put('\n');
}

// `name{labels,extra} ` — the value follows.
void Open(Buffer& b, std::string_view name, std::string_view labels, std::string_view extra = {}) {
  b.Room(kLineRoom);
  b.Put(name);
  b.Put('{');
  b.Put(labels);
  if (!extra.empty()) {
    b.Put(',');
    b.Put(extra);
  }
  b.Put("} ");
}

struct Row {
  const TargetInfo* info;
  TargetSnapshot snap;
};

template <typename Value>
void Series(Buffer& b, const std::vector<Row>& rows, std::string_view name, std::string_view type,
            std::string_view help, Value value) {
  Header(b, name, type, help);
  for (const Row& r : rows) {
    Open(b, name, r.info->label_text);
    auto v = value(r.snap);
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      b.PutDouble(v);
    } else {
      b.PutUint(v);
    }
    b.Put('\n');
  }
}

void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    *out += "NaN";
  } else if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, res.ptr);
  }
}

void AppendName(std::string* out, std::string_view name, std::string_view labels) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    *out += labels;
    *out += '}';
  }
  *out += ' ';
}

}  // namespace

void AppendHeader(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value) {
  AppendName(out, name, labels);
  AppendDouble(out, value);
  *out += '\n';
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels,
                  uint64_t value) {
  AppendName(out, name, labels);
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, res.ptr);
  *out += '\n';
}

void WriteTargetFamilies(const ResultStore& store, std::string* out) {
  WriteTargetFamilies(store, [out](std::string_view piece) { out->append(piece); });
}

void WriteTargetFamilies(const ResultStore& store, const TextSink& sink) {
  std::shared_ptr<const ResultStore::TargetList> targets = store.Current();
  std::span<const double> bounds = store.bucket_bounds();
  // One consistent snapshot per target, taken once: every family below then
  // agrees with every other one for the same target.
  std::vector<Row> rows;
  rows.reserve(targets->size());
  for (const TargetEntry& entry : *targets) {
    Row row{entry.info.get(), {}};
    entry.stats->Read(&row.snap);
    if (row.snap.has_round) rows.push_back(std::move(row));
  }
  Buffer b(sink);

  Series(b, rows, "ping_up", "gauge",
         "1 if the last completed round got at least one valid reply, else 0.",
         [](const TargetSnapshot& s) { return uint64_t{s.round_received > 0}; });

  Header(b, "ping_status", "gauge",
         "State of the last completed round: alive (all replies), partial, no_response.");
  for (const Row& r : rows) {
    bool alive = r.snap.round_sent > 0 && r.snap.round_received >= r.snap.round_sent;
    bool none = r.snap.round_received == 0;
    const std::string& l = r.info->label_text;
    Open(b, "ping_status", l, "status=\"alive\"");
    b.Put(alive ? "1\n" : "0\n");
    Open(b, "ping_status", l, "status=\"partial\"");
    b.Put(!alive && !none ? "1\n" : "0\n");
    Open(b, "ping_status", l, "status=\"no_response\"");
    b.Put(none ? "1\n" : "0\n");
  }

  Series(b, rows, "ping_round_packets_sent", "gauge",
         "Echo requests sent in the last completed round.",
         [](const TargetSnapshot& s) { return uint64_t{s.round_sent}; });
  Series(b, rows, "ping_round_packets_received", "gauge",
         "Valid echo replies in the last completed round.",
         [](const TargetSnapshot& s) { return uint64_t{s.round_received}; });
  Series(b, rows, "ping_packets_sent_total", "counter",
         "Echo requests sent since the target appeared.",
         [](const TargetSnapshot& s) { return s.sent_total; });
  Series(b, rows, "ping_packets_received_total", "counter",
         "Valid echo replies since the target appeared.",
         [](const TargetSnapshot& s) { return s.received_total; });
  Series(b, rows, "ping_loss_ratio", "gauge",
         "Fraction of the last round's requests without a valid reply (0..1).",
         [](const TargetSnapshot& s) {
           return s.round_sent == 0 ? 1.0
                                    : 1.0 - static_cast<double>(s.round_received) / s.round_sent;
         });

  // Bucket label texts are the same for every target: render them once.
  std::vector<std::string> le(bounds.size() + 1);
  for (size_t i = 0; i < bounds.size(); ++i) {
    char num[32];
    auto res = std::to_chars(num, num + sizeof num, bounds[i]);
    le[i] = "le=\"" + std::string(num, res.ptr) + "\"";
  }
  le.back() = "le=\"+Inf\"";
  Header(b, "ping_rtt_seconds", "histogram", "Round-trip time of every valid reply.");
  for (const Row& r : rows) {
    const std::string& l = r.info->label_text;
    for (size_t i = 0; i < le.size(); ++i) {
      Open(b, "ping_rtt_seconds_bucket", l, le[i]);
      b.PutUint(r.snap.buckets[i]);
      b.Put('\n');
    }
    Open(b, "ping_rtt_seconds_sum", l);
    b.PutDouble(r.snap.rtt_sum);
    b.Put('\n');
    Open(b, "ping_rtt_seconds_count", l);
    b.PutUint(r.snap.rtt_count);
    b.Put('\n');
  }

  Header(b, "ping_round_rtt_seconds", "gauge",
         "Round-trip time statistics of the last completed round (absent without replies).");
  for (const Row& r : rows) {
    // Absent rather than NaN: one NaN makes avg_over_time() NaN for the whole window.
    if (r.snap.round_received == 0) continue;
    const std::string& l = r.info->label_text;
    const std::pair<std::string_view, double> stats[] = {{"stat=\"min\"", r.snap.rtt_min},
                                                         {"stat=\"avg\"", r.snap.rtt_avg},
                                                         {"stat=\"max\"", r.snap.rtt_max},
                                                         {"stat=\"stddev\"", r.snap.rtt_stddev}};
    for (const auto& [label, value] : stats) {
      Open(b, "ping_round_rtt_seconds", l, label);
      b.PutDouble(value);
      b.Put('\n');
    }
  }

  Header(b, "ping_reply_ttl", "gauge", "TTL or hop limit of the last valid reply.");
  for (const Row& r : rows) {
    if (r.snap.reply_ttl < 0) continue;
    Open(b, "ping_reply_ttl", r.info->label_text);
    b.PutUint(static_cast<uint64_t>(r.snap.reply_ttl));
    b.Put('\n');
  }

  Series(b, rows, "ping_duplicate_replies_total", "counter",
         "Second and later replies to the same request.",
         [](const TargetSnapshot& s) { return s.duplicates; });
  Series(b, rows, "ping_late_replies_total", "counter",
         "Replies that arrived after their round's timeout.",
         [](const TargetSnapshot& s) { return s.late; });
  Series(b, rows, "ping_invalid_replies_total", "counter",
         "Replies that failed validation (source, identifier, cookie, payload).",
         [](const TargetSnapshot& s) { return s.invalid; });

  std::array<std::string, kSendErrorCount> reasons;
  for (size_t i = 0; i < kSendErrorCount; ++i) {
    reasons[i] = std::string("reason=\"") + SendErrorName(static_cast<SendError>(i)) + "\"";
  }
  Header(b, "ping_send_errors_total", "counter",
         "Requests that failed, by reason (local send errors and ICMP errors).");
  for (const Row& r : rows) {
    for (size_t i = 0; i < kSendErrorCount; ++i) {
      Open(b, "ping_send_errors_total", r.info->label_text, reasons[i]);
      b.PutUint(r.snap.send_errors[i]);
      b.Put('\n');
    }
  }

  Series(b, rows, "ping_last_round_timestamp_seconds", "gauge",
         "Wall-clock time the last round completed, seconds since the epoch.",
         [](const TargetSnapshot& s) { return s.last_round_time; });
}

}  // namespace ping_exporter::metrics
