#include "metrics/text_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <vector>

namespace ping_exporter::metrics {
namespace {

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

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

void OpenSample(std::string* out, std::string_view name, std::string_view labels,
                std::string_view extra = {}) {
  *out += name;
  if (!labels.empty() || !extra.empty()) {
    *out += '{';
    *out += labels;
    if (!labels.empty() && !extra.empty()) *out += ',';
    *out += extra;
    *out += '}';
  }
  *out += ' ';
}

struct Row {
  const TargetInfo* info;
  TargetSnapshot snap;
};

template <typename F>
void Family(std::string* out, const std::vector<Row>& rows, std::string_view name,
            std::string_view type, std::string_view help, F&& per_row) {
  AppendHeader(out, name, type, help);
  for (const Row& r : rows) per_row(r);
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
  OpenSample(out, name, labels);
  AppendDouble(out, value);
  *out += '\n';
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels,
                  uint64_t value) {
  OpenSample(out, name, labels);
  AppendUint(out, value);
  *out += '\n';
}

void WriteTargetFamilies(const ResultStore& store, std::string* out) {
  std::shared_ptr<const ResultStore::TargetList> targets = store.Current();
  std::span<const double> bounds = store.bucket_bounds();
  std::vector<Row> rows;
  rows.reserve(targets->size());
  for (const auto& entry : *targets) {
    Row row{entry.info.get(), {}};
    entry.stats->Read(&row.snap);
    if (row.snap.has_round) rows.push_back(std::move(row));
  }
  out->reserve(out->size() + rows.size() * (1400 + 120 * bounds.size()));

  auto gauge = [&](std::string_view name, std::string_view help, auto value) {
    Family(out, rows, name, "gauge", help,
           [&](const Row& r) { AppendSample(out, name, r.info->label_text, value(r.snap)); });
  };
  auto counter = [&](std::string_view name, std::string_view help, auto value) {
    Family(out, rows, name, "counter", help,
           [&](const Row& r) { AppendSample(out, name, r.info->label_text, value(r.snap)); });
  };

  gauge("ping_up", "1 if the last completed round got at least one valid reply, else 0.",
        [](const TargetSnapshot& s) { return uint64_t{s.round_received > 0}; });

  AppendHeader(out, "ping_status", "gauge",
               "State of the last completed round: alive (all replies), partial, no_response.");
  for (const Row& r : rows) {
    bool alive = r.snap.round_sent > 0 && r.snap.round_received >= r.snap.round_sent;
    bool none = r.snap.round_received == 0;
    const std::string& l = r.info->label_text;
    OpenSample(out, "ping_status", l, "status=\"alive\"");
    *out += alive ? "1\n" : "0\n";
    OpenSample(out, "ping_status", l, "status=\"partial\"");
    *out += (!alive && !none) ? "1\n" : "0\n";
    OpenSample(out, "ping_status", l, "status=\"no_response\"");
    *out += none ? "1\n" : "0\n";
  }

  gauge("ping_round_packets_sent", "Echo requests sent in the last completed round.",
        [](const TargetSnapshot& s) { return uint64_t{s.round_sent}; });
  gauge("ping_round_packets_received", "Valid echo replies in the last completed round.",
        [](const TargetSnapshot& s) { return uint64_t{s.round_received}; });
  counter("ping_packets_sent_total", "Echo requests sent since the target appeared.",
          [](const TargetSnapshot& s) { return s.sent_total; });
  counter("ping_packets_received_total", "Valid echo replies since the target appeared.",
          [](const TargetSnapshot& s) { return s.received_total; });
  gauge("ping_loss_ratio", "Fraction of the last round's requests without a valid reply (0..1).",
        [](const TargetSnapshot& s) {
          return s.round_sent == 0 ? 1.0
                                   : 1.0 - static_cast<double>(s.round_received) / s.round_sent;
        });

  AppendHeader(out, "ping_rtt_seconds", "histogram", "Round-trip time of every valid reply.");
  for (const Row& r : rows) {
    const std::string& l = r.info->label_text;
    char le[48];
    for (size_t i = 0; i < bounds.size(); ++i) {
      auto res = std::to_chars(le + 4, le + sizeof le - 1, bounds[i]);
      std::copy_n("le=\"", 4, le);
      *res.ptr = '"';
      OpenSample(out, "ping_rtt_seconds_bucket", l, std::string_view(le, res.ptr + 1 - le));
      AppendUint(out, r.snap.buckets[i]);
      *out += '\n';
    }
    OpenSample(out, "ping_rtt_seconds_bucket", l, "le=\"+Inf\"");
    AppendUint(out, r.snap.buckets.back());
    *out += '\n';
    AppendSample(out, "ping_rtt_seconds_sum", l, r.snap.rtt_sum);
    AppendSample(out, "ping_rtt_seconds_count", l, r.snap.rtt_count);
  }

  AppendHeader(out, "ping_round_rtt_seconds", "gauge",
               "Round-trip time statistics of the last completed round (NaN without replies).");
  for (const Row& r : rows) {
    const std::string& l = r.info->label_text;
    bool any = r.snap.round_received > 0;
    const std::pair<std::string_view, double> stats[] = {
        {"stat=\"min\"", r.snap.rtt_min},
        {"stat=\"avg\"", r.snap.rtt_avg},
        {"stat=\"max\"", r.snap.rtt_max},
        {"stat=\"stddev\"", r.snap.rtt_stddev}};
    for (const auto& [label, value] : stats) {
      OpenSample(out, "ping_round_rtt_seconds", l, label);
      AppendDouble(out, any ? value : std::nan(""));
      *out += '\n';
    }
  }

  AppendHeader(out, "ping_reply_ttl", "gauge", "TTL or hop limit of the last valid reply.");
  for (const Row& r : rows) {
    if (r.snap.reply_ttl >= 0) {
      AppendSample(out, "ping_reply_ttl", r.info->label_text, uint64_t(r.snap.reply_ttl));
    }
  }

  counter("ping_duplicate_replies_total", "Second and later replies to the same request.",
          [](const TargetSnapshot& s) { return s.duplicates; });
  counter("ping_late_replies_total", "Replies that arrived after their round's timeout.",
          [](const TargetSnapshot& s) { return s.late; });
  counter("ping_invalid_replies_total",
          "Replies that failed validation (source, identifier, cookie, payload).",
          [](const TargetSnapshot& s) { return s.invalid; });

  AppendHeader(out, "ping_send_errors_total", "counter",
               "Requests that failed, by reason (local send errors and ICMP errors).");
  std::array<std::string, kSendErrorCount> reasons;
  for (size_t i = 0; i < kSendErrorCount; ++i) {
    reasons[i] = std::string("reason=\"") + SendErrorName(static_cast<SendError>(i)) + "\"";
  }
  for (const Row& r : rows) {
    for (size_t i = 0; i < kSendErrorCount; ++i) {
      OpenSample(out, "ping_send_errors_total", r.info->label_text, reasons[i]);
      AppendUint(out, r.snap.send_errors[i]);
      *out += '\n';
    }
  }

  gauge("ping_last_round_timestamp_seconds",
        "Wall-clock time the last round completed, seconds since the epoch.",
        [](const TargetSnapshot& s) { return s.last_round_time; });
}

}  // namespace ping_exporter::metrics
