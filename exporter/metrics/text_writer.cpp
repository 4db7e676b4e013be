#include "metrics/text_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "metrics/round_state.h"

namespace ping_exporter::metrics {
namespace {

constexpr size_t kBufferSize = 256 * 1024;
// Room most sample lines need. Label texts are not bounded (a label value may be long):
// each piece is checked as it is put, and a longer one goes to the sink directly (see Put()).
constexpr size_t kLineRoom = 1024;
// Room for what callers write unchecked after Open(): a number (at most 24 characters) and '\n'.
constexpr size_t kValueRoom = 32;

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

void Header(Buffer& b, const Family& f) {
  const std::string_view type = TextTypeName(f.type);
  b.Room(64 + 2 * f.name.size() + f.help.size());
  b.Put("# HELP ");
  b.Put(f.name);
  b.Put(' ');
  b.Put(f.help);
  b.Put("\n# TYPE ");
  b.Put(f.name);
  b.Put(' ');
  b.Put(type);
  b.Put('\n');
}

// `name{labels,extra} ` — the value follows.
void Open(Buffer& b, std::string_view name, std::string_view labels, std::string_view extra = {}) {
  b.Room(kLineRoom);
  b.Put(name);
  b.Put(std::string_view("{"));
  b.Put(labels);
  if (!extra.empty()) {
    b.Put(std::string_view(","));
    b.Put(extra);
  }
  b.Put("} ");
  // Labels of about kLineRoom bytes overran the room reserved above, and the '\n' after the
  // value could land one byte past the buffer.
  b.Room(kValueRoom);
}

// One WriteTargetRows() call: where it writes, what, and which families.
struct Rows {
  Buffer& b;
  std::span<const TargetRow> rows;
  RowFamilies which;

  /// Writes the header of `f` and returns true, or returns false when this
  /// call leaves `f` out. `has_samples`: some row has a series of `f`.
  bool Begin(const Family& f, bool has_samples) const {
    if (which == RowFamilies::kRound && (!f.round || !has_samples)) return false;
    Header(b, f);
    return true;
  }
};

// Writes `f` with value(snapshot) for each row that has() a value: families a
// target has no value of yet (a TTL before its first reply) are absent for it,
// never a made-up number.
template <typename Has, typename Value>
void SeriesWhere(const Rows& w, const Family& f, Has has, Value value) {
  if (!w.Begin(f, std::any_of(w.rows.begin(), w.rows.end(), has))) return;
  for (const TargetRow& r : w.rows) {
    if (!has(r)) continue;
    Open(w.b, f.name, r.info->label_text);
    auto v = value(r.snap);
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      w.b.PutDouble(v);
    } else {
      w.b.PutUint(v);
    }
    w.b.Put('\n');
  }
}

template <typename Value>
void Series(const Rows& w, const Family& f, Value value) {
  SeriesWhere(
      w, f, [](const TargetRow&) { return true; }, value);
}

void StatusSeries(const Rows& w) {
  const Family& f = family::kStatus;
  if (!w.Begin(f, !w.rows.empty())) return;
  std::array<std::string, kRoundStates.size()> labels;
  for (size_t i = 0; i < labels.size(); ++i)
    labels[i] = LabelPair(f.labels[0], StateName(kRoundStates[i]));
  for (const TargetRow& r : w.rows) {
    const RoundState state = StateOf(r.snap.round_sent, r.snap.round_received);
    for (size_t i = 0; i < labels.size(); ++i) {
      Open(w.b, f.name, r.info->label_text, labels[i]);
      w.b.Put(state == kRoundStates[i] ? "1\n" : "0\n");
    }
  }
}

void RttHistogram(const Rows& w, std::span<const double> bounds) {
  const Family& f = family::kRtt;
  if (!w.Begin(f, !w.rows.empty())) return;
  // Names and bucket label texts are the same for every target: render them once.
  const std::string bucket = std::string(f.name) + "_bucket";
  const std::string sum = std::string(f.name) + "_sum";
  const std::string count = std::string(f.name) + "_count";
  std::vector<std::string> le(bounds.size() + 1);
  for (size_t i = 0; i < bounds.size(); ++i) {
    char num[32];
    auto res = std::to_chars(num, num + sizeof num, bounds[i]);
    le[i] = LabelPair("le", std::string_view(num, static_cast<size_t>(res.ptr - num)));
  }
  le.back() = LabelPair("le", "+Inf");
  for (const TargetRow& r : w.rows) {
    const std::string& l = r.info->label_text;
    for (size_t i = 0; i < le.size(); ++i) {
      Open(w.b, bucket, l, le[i]);
      w.b.PutUint(r.snap.buckets[i]);
      w.b.Put('\n');
    }
    Open(w.b, sum, l);
    w.b.PutDouble(r.snap.rtt_sum);
    w.b.Put('\n');
    Open(w.b, count, l);
    w.b.PutUint(r.snap.rtt_count);
    w.b.Put('\n');
  }
}

void RoundRttSeries(const Rows& w) {
  const Family& f = family::kRoundRtt;
  // Absent rather than NaN for a round without replies: one NaN makes avg_over_time() NaN
  // for the whole window.
  auto answered = [](const TargetRow& r) { return r.snap.round_received > 0; };
  if (!w.Begin(f, std::any_of(w.rows.begin(), w.rows.end(), answered))) return;
  const std::string stats[] = {LabelPair(f.labels[0], "min"), LabelPair(f.labels[0], "avg"),
                               LabelPair(f.labels[0], "max"), LabelPair(f.labels[0], "stddev")};
  for (const TargetRow& r : w.rows) {
    if (!answered(r)) continue;
    const std::string& l = r.info->label_text;
    const double values[] = {r.snap.rtt_min, r.snap.rtt_avg, r.snap.rtt_max, r.snap.rtt_stddev};
    for (size_t i = 0; i < std::size(stats); ++i) {
      Open(w.b, f.name, l, stats[i]);
      w.b.PutDouble(values[i]);
      w.b.Put('\n');
    }
  }
}

void SendErrorSeries(const Rows& w) {
  const Family& f = family::kSendErrors;
  if (!w.Begin(f, !w.rows.empty())) return;
  std::array<std::string, kSendErrorCount> reasons;
  for (size_t i = 0; i < kSendErrorCount; ++i) {
    reasons[i] = LabelPair(f.labels[0], SendErrorName(static_cast<SendError>(i)));
  }
  for (const TargetRow& r : w.rows) {
    for (size_t i = 0; i < kSendErrorCount; ++i) {
      Open(w.b, f.name, r.info->label_text, reasons[i]);
      w.b.PutUint(r.snap.send_errors[i]);
      w.b.Put('\n');
    }
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

std::string LabelPair(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  out += EscapeLabelValue(value);
  out += '"';
  return out;
}

void AppendHeader(std::string* out, const Family& family) {
  *out += "# HELP ";
  *out += family.name;
  *out += ' ';
  *out += family.help;
  *out += "\n# TYPE ";
  *out += family.name;
  *out += ' ';
  *out += TextTypeName(family.type);
  *out += '\n';
}

void AppendFamily(std::string* out, const Family& family, double value) {
  AppendHeader(out, family);
  AppendSample(out, family.name, "", value);
}

void AppendFamily(std::string* out, const Family& family, uint64_t value) {
  AppendHeader(out, family);
  AppendSample(out, family.name, "", value);
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

void WriteTargetRows(std::span<const TargetRow> rows, std::span<const double> bucket_bounds,
                     RowFamilies which, const TextSink& sink) {
  Buffer b(sink);
  const Rows w{b, rows, which};
  Series(w, family::kUp, [](const TargetSnapshot& s) { return uint64_t{s.round_received > 0}; });
  StatusSeries(w);
  Series(w, family::kRoundPacketsSent,
         [](const TargetSnapshot& s) { return uint64_t{s.round_sent}; });
  Series(w, family::kRoundPacketsReceived,
         [](const TargetSnapshot& s) { return uint64_t{s.round_received}; });
  Series(w, family::kPacketsSent, [](const TargetSnapshot& s) { return s.sent_total; });
  Series(w, family::kPacketsReceived, [](const TargetSnapshot& s) { return s.received_total; });
  Series(w, family::kLossRatio,
         [](const TargetSnapshot& s) { return LossRatio(s.round_sent, s.round_received); });
  RttHistogram(w, bucket_bounds);
  RoundRttSeries(w);
  SeriesWhere(
      w, family::kJitter, [](const TargetRow& r) { return r.snap.jitter >= 0; },
      [](const TargetSnapshot& s) { return s.jitter; });
  SeriesWhere(
      w, family::kReplyTtl, [](const TargetRow& r) { return r.snap.reply_ttl >= 0; },
      [](const TargetSnapshot& s) { return static_cast<uint64_t>(s.reply_ttl); });
  Series(w, family::kDuplicateReplies, [](const TargetSnapshot& s) { return s.duplicates; });
  Series(w, family::kLateReplies, [](const TargetSnapshot& s) { return s.late; });
  Series(w, family::kOutOfOrderReplies, [](const TargetSnapshot& s) { return s.out_of_order; });
  Series(w, family::kInvalidReplies, [](const TargetSnapshot& s) { return s.invalid; });
  SendErrorSeries(w);
  Series(w, family::kLastRoundTimestamp, [](const TargetSnapshot& s) { return s.last_round_time; });
}

void WriteTargetFamilies(const ResultStore& store, std::string* out) {
  WriteTargetFamilies(store, [out](std::string_view piece) { out->append(piece); });
}

void WriteTargetFamilies(const ResultStore& store, const TextSink& sink) {
  std::shared_ptr<const ResultStore::TargetList> targets = store.Current();
  // One consistent snapshot per target, taken once: every family then agrees
  // with every other one for the same target.
  std::vector<TargetRow> rows;
  rows.reserve(targets->size());
  for (const TargetEntry& entry : *targets) {
    TargetRow row{entry.info.get(), {}};
    entry.stats->Read(&row.snap);
    if (row.snap.has_round) rows.push_back(std::move(row));
  }
  WriteTargetRows(rows, store.bucket_bounds(), RowFamilies::kAll, sink);
}

}  // namespace ping_exporter::metrics
