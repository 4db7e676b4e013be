#pragma once
// Which per-target series an exposition holds, decided once for every format:
// the family table's order, each group's profile, the round families of a
// /probe answer, and the series budget (a send-error reason appears once it
// happened). The text and protobuf writers only encode what WalkTargetFamilies
// hands them.

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "metrics/families.h"
#include "metrics/round_state.h"
#include "metrics/series_options.h"
#include "metrics/store.h"

namespace ping_exporter::metrics {

/// A target's identity, its options and one consistent copy of its numbers.
struct TargetRow {
  const TargetInfo* info = nullptr;
  const SeriesOptions* options = nullptr;  ///< null: every family, no histogram (/probe)
  TargetSnapshot snap;
};

/// Which per-target families an exposition holds.
enum class RowFamilies : uint8_t {
  kAll,    ///< those of each row's profile, each with HELP and TYPE even without samples (a scrape)
  kRound,  ///< those of the last round (Family::round) that have samples (a /probe answer)
};

/// One consistent snapshot of every target of a store that completed a round,
/// in store order, taken once so that every family agrees for a target. Holds
/// the target list the rows point into.
struct CollectedRows {
  std::shared_ptr<const ResultStore::TargetList> targets;
  std::vector<TargetRow> rows;
  /// The largest profile of any target, with a round or not; none without targets.
  std::optional<Profile> widest;
};
/// Thread-safe (reads only).
CollectedRows CollectRows(const ResultStore& store);

namespace detail {

/// A sample's value: counts stay integers, so text writes them as such.
struct RowValue {
  bool integer = true;
  uint64_t u = 0;
  double d = 0;
  double number() const { return integer ? static_cast<double>(u) : d; }
};
inline RowValue Int(uint64_t v) { return {true, v, 0}; }
inline RowValue Real(double v) { return {false, 0, v}; }

inline constexpr std::array<std::string_view, 4> kRoundRttStats = {"min", "avg", "max", "stddev"};

/// The label values of a family's one extra label (status, stat, reason), by index.
template <size_t N>
struct LabelValues {
  std::array<std::string_view, N> values;
  std::span<const std::string_view> span() const { return values; }
};
inline LabelValues<kRoundStates.size()> StatusValues() {
  LabelValues<kRoundStates.size()> v;
  for (size_t i = 0; i < kRoundStates.size(); ++i) v.values[i] = StateName(kRoundStates[i]);
  return v;
}
inline LabelValues<kSendErrorCount> ReasonValues() {
  LabelValues<kSendErrorCount> v;
  for (size_t i = 0; i < kSendErrorCount; ++i)
    v.values[i] = SendErrorName(static_cast<SendError>(i));
  return v;
}

/// Calls `visit.Visit(family, label_values, samples)` for every per-target
/// family `which` holds, in table order; with kAll also for the families of
/// `headers` and the profiles before it that have no sample (yet). `samples(emit)` calls
/// `emit(row, label_index, RowValue)` for each of the family's samples, rows in
/// order; a histogram's samples carry no value (the writer reads row.snap).
/// `label_values` are the family's extra label values by index (empty: none).
template <typename Visitor>
void WalkTargetFamilies(std::span<const TargetRow> rows, RowFamilies which, Visitor& visit,
                        std::optional<Profile> headers = std::nullopt) {
  const bool all = which == RowFamilies::kAll;
  const bool any_headers = all && headers.has_value();
  const Profile header_profile = headers.value_or(Profile::kMinimal);
  auto shows = [all](const TargetRow& r, const Family& f) {
    return all ? (r.options == nullptr || r.options->Exposes(f)) : f.round;
  };
  // `f` with one sample a row (value(snap) -> RowValue), for the rows `has` accepts.
  auto family = [&](const Family& f, std::span<const std::string_view> labels, auto&& samples,
                    auto&& has) {
    bool any = any_headers && f.profile <= header_profile;
    for (const TargetRow& r : rows) {
      if (shows(r, f) && (all || has(r))) {
        any = true;
        break;
      }
    }
    if (any) visit.Visit(f, labels, samples);
  };
  auto always = [](const TargetRow&) { return true; };
  // Whether `r` writes its zero-valued series of `f` (Family::zeros).
  auto writes_zero = [](const TargetRow& r, const Family& f) {
    const bool full = r.options == nullptr || r.options->profile == Profile::kFull;
    return f.zeros == Zeros::kAlways || (f.zeros == Zeros::kInFull && full);
  };
  auto simple = [&](const Family& f, auto value, auto has) {
    family(
        f, {},
        [&](auto&& emit) {
          for (const TargetRow& r : rows) {
            if (!shows(r, f) || !has(r)) continue;
            const RowValue v = value(r.snap);
            if (v.number() != 0 || writes_zero(r, f)) emit(r, 0, v);
          }
        },
        has);
  };

  simple(
      family::kUp, [](const TargetSnapshot& s) { return Int(s.round_received > 0); }, always);
  static const auto kStatus = StatusValues();
  family(
      family::kStatus, kStatus.span(),
      [&](auto&& emit) {
        for (const TargetRow& r : rows) {
          if (!shows(r, family::kStatus)) continue;
          const RoundState state = StateOf(r.snap.round_sent, r.snap.round_received);
          for (size_t i = 0; i < kRoundStates.size(); ++i) {
            emit(r, i, Int(state == kRoundStates[i]));
          }
        }
      },
      always);
  simple(
      family::kRoundPacketsSent, [](const TargetSnapshot& s) { return Int(s.round_sent); }, always);
  simple(
      family::kRoundPacketsReceived, [](const TargetSnapshot& s) { return Int(s.round_received); },
      always);
  simple(
      family::kPacketsSent, [](const TargetSnapshot& s) { return Int(s.sent_total); }, always);
  simple(
      family::kPacketsReceived, [](const TargetSnapshot& s) { return Int(s.received_total); },
      always);
  simple(
      family::kLossRatio,
      [](const TargetSnapshot& s) { return Real(LossRatio(s.round_sent, s.round_received)); },
      always);
  // Histograms need their options (a /probe row has none, and kRtt is no round family).
  auto has_histogram = [](const TargetRow& r) { return r.options != nullptr; };
  simple(
      family::kRtt, [](const TargetSnapshot&) { return RowValue{}; }, has_histogram);
  // Absent rather than NaN for a round without replies: one NaN makes avg_over_time() NaN
  // for the whole window.
  auto answered = [](const TargetRow& r) { return r.snap.round_received > 0; };
  family(
      family::kRoundRtt, kRoundRttStats,
      [&](auto&& emit) {
        for (const TargetRow& r : rows) {
          if (!shows(r, family::kRoundRtt) || !answered(r)) continue;
          const double values[] = {r.snap.rtt_min, r.snap.rtt_avg, r.snap.rtt_max,
                                   r.snap.rtt_stddev};
          for (size_t i = 0; i < kRoundRttStats.size(); ++i) emit(r, i, Real(values[i]));
        }
      },
      answered);
  // Jitter needs two replies.
  simple(
      family::kJitter, [](const TargetSnapshot& s) { return Real(s.jitter); },
      [](const TargetRow& r) { return r.snap.jitter >= 0; });
  // A target has no TTL until its first reply.
  simple(
      family::kReplyTtl,
      [](const TargetSnapshot& s) { return Int(static_cast<uint64_t>(s.reply_ttl)); },
      [](const TargetRow& r) { return r.snap.reply_ttl >= 0; });
  simple(
      family::kDuplicateReplies, [](const TargetSnapshot& s) { return Int(s.duplicates); }, always);
  simple(
      family::kLateReplies, [](const TargetSnapshot& s) { return Int(s.late); }, always);
  simple(
      family::kOutOfOrderReplies, [](const TargetSnapshot& s) { return Int(s.out_of_order); },
      always);
  simple(
      family::kInvalidReplies, [](const TargetSnapshot& s) { return Int(s.invalid); }, always);
  // The series budget: a reason that never happened to a target has no series (Zeros::kNever).
  static const auto kReasons = ReasonValues();
  auto has_error = [](const TargetRow& r) {
    return std::any_of(r.snap.send_errors.begin(), r.snap.send_errors.end(),
                       [](uint64_t n) { return n > 0; });
  };
  family(
      family::kSendErrors, kReasons.span(),
      [&](auto&& emit) {
        for (const TargetRow& r : rows) {
          if (!shows(r, family::kSendErrors)) continue;
          for (size_t i = 0; i < kSendErrorCount; ++i) {
            if (r.snap.send_errors[i] > 0 || writes_zero(r, family::kSendErrors)) {
              emit(r, i, Int(r.snap.send_errors[i]));
            }
          }
        }
      },
      has_error);
  simple(
      family::kLastRoundTimestamp, [](const TargetSnapshot& s) { return Real(s.last_round_time); },
      always);
}

}  // namespace detail
}  // namespace ping_exporter::metrics
