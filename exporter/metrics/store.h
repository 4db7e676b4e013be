#pragma once
// Per-target results: written by the one worker that owns the target, read by
// scrapes at any time without stopping or slowing that worker.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/native_histogram.h"
#include "metrics/round_state.h"
#include "metrics/series_options.h"

namespace ping_exporter::metrics {

/// Reasons of family::kSendErrors (metrics/families.h); values are created up front.
enum class SendError : uint8_t {
  kNetworkUnreachable,
  kHostUnreachable,
  kProhibited,
  kTtlExceeded,
  kNoBuffer,
  kPermission,
  kMessageTooLong,
  kResolve,
  kOther,
  kCount_,
};
constexpr size_t kSendErrorCount = static_cast<size_t>(SendError::kCount_);
const char* SendErrorName(SendError e);
/// Maps a send() errno to a reason.
SendError SendErrorFromErrno(int err);

/// A target's static labels (sorted by name), shared read-only by every target of its group:
/// copies share one list. Converts implicitly from a plain list. Immutable, so thread-safe.
class SharedLabels {
 public:
  using List = std::vector<std::pair<std::string, std::string>>;
  SharedLabels() = default;
  SharedLabels(List labels);  // NOLINT(google-explicit-constructor): a value
  SharedLabels(std::initializer_list<List::value_type> labels) : SharedLabels(List(labels)) {}
  SharedLabels(std::shared_ptr<const List> labels);  // NOLINT(google-explicit-constructor)
  const List& list() const;
  List::const_iterator begin() const { return list().begin(); }
  List::const_iterator end() const { return list().end(); }
  size_t size() const { return list().size(); }
  bool empty() const { return list().empty(); }
  /// Same labels, whether or not the list is the same object.
  bool operator==(const SharedLabels& o) const { return p_ == o.p_ || list() == o.list(); }

 private:
  std::shared_ptr<const List> p_;  // null: no labels
};

/// The identity of a target as series show it. Immutable once built.
struct TargetInfo {
  std::string name;     ///< as configured
  std::string address;  ///< the IP pinged, "" if unresolved
  std::string group;    ///< its [[targets]] group or [[target_files]] name; "" = no `group` label
  SharedLabels labels;  ///< static group labels
  /// Pre-rendered `target="…",address="…",group="…",source="…",k="v"` (escaped), so scrapes
  /// only copy.
  std::string label_text;
  std::string source{};  ///< the prober's identity (--source.name); "" = no `source` label
};
/// Calls `f(name, value)` (string_views into `info`) for each of its series' identity labels
/// in exposition order: target, address, group and source when set, then the static labels.
/// The one list every format writes.
template <class F>
void ForEachLabel(const TargetInfo& info, F&& f) {
  f(std::string_view("target"), std::string_view(info.name));
  f(std::string_view("address"), std::string_view(info.address));
  if (!info.group.empty()) f(std::string_view("group"), std::string_view(info.group));
  if (!info.source.empty()) f(std::string_view("source"), std::string_view(info.source));
  for (const auto& [k, v] : info.labels) f(std::string_view(k), std::string_view(v));
}
std::string RenderLabels(const TargetInfo& info);
/// Escapes a label value for the text format (backslash, quote, newline).
std::string EscapeLabelValue(std::string_view value);

/// One completed round as published.
struct PublishedRound {
  uint32_t sent = 0;
  uint32_t received = 0;
  double rtt_min = 0, rtt_avg = 0, rtt_max = 0, rtt_stddev = 0;
  int32_t reply_ttl = -1;        ///< -1: no reply seen yet
  double completed_at = 0;       ///< wall clock, seconds since the epoch
  std::span<const double> rtts;  ///< observations for the histogram
  double jitter = -1;            ///< RFC 3550 interarrival jitter, seconds; -1: not yet known
};

/// A consistent copy of one target's numbers.
struct TargetSnapshot {
  bool has_round = false;
  uint32_t round_sent = 0, round_received = 0;
  double rtt_min = 0, rtt_avg = 0, rtt_max = 0, rtt_stddev = 0;
  int32_t reply_ttl = -1;
  double jitter = -1;  ///< seconds; -1: not yet known
  double last_round_time = 0;
  uint64_t sent_total = 0, received_total = 0;
  uint64_t duplicates = 0, late = 0, invalid = 0, out_of_order = 0;
  std::array<uint64_t, kSendErrorCount> send_errors{};
  std::vector<uint64_t> buckets;  ///< classic: cumulative counts, one per bound, then +Inf
  NativeSnapshot native;          ///< native buckets (SeriesOptions::native() only)
  double rtt_sum = 0;
  uint64_t rtt_count = 0;
};

/// The few numbers a sampler needs, without the histogram and error counts,
/// so reading one costs a couple of cache lines.
struct TargetCounters {
  bool has_round = false;
  uint32_t round_sent = 0, round_received = 0;
  double last_round_time = 0;
  uint64_t sent_total = 0, received_total = 0;
  double rtt_sum = 0;
  uint64_t rtt_count = 0;
};

/// What the state-change log (probe/target_table.cpp) knows of one target. It lives with the
/// target's stats so that a reload, which rebuilds the workers' tables, neither forgets nor
/// repeats a line. Not synchronised: only the worker that owns the target touches it, and a
/// reload stops the old workers before the new ones start.
struct StateLog {
  std::optional<RoundState> latest;  ///< state of the latest round; nullopt before the first
  std::optional<RoundState> logged;  ///< what the last line said (or the first round was)
  std::chrono::steady_clock::time_point logged_at{};  ///< when the last line was written; {}: none
  uint32_t pending = 0;  ///< up/down changes since that line that have no line yet
};

/// Counters and last round of one target. One writer thread (the owning
/// worker) at a time; any number of concurrent readers. Round data is guarded
/// by a sequence lock over atomics, so readers retry instead of blocking the
/// writer, and the code stays free of data races. Memory is fixed at
/// construction: the classic buckets, and kNativeBucketLimit native ones.
class TargetStats {
 public:
  /// `options` says which histograms to keep; null: none (a one-off round).
  explicit TargetStats(std::shared_ptr<const SeriesOptions> options);
  TargetStats(const TargetStats&) = delete;
  TargetStats& operator=(const TargetStats&) = delete;

  /// The options the stats were made with; null for none. Immutable.
  const SeriesOptions* options() const { return options_.get(); }

  /// Writer side. Never allocates.
  void Publish(const PublishedRound& round);
  void AddDuplicate() { Bump(duplicates_); }
  void AddLate() { Bump(late_); }
  void AddInvalid() { Bump(invalid_); }
  void AddOutOfOrder() { Bump(out_of_order_); }
  void AddSendError(SendError e) { Bump(send_errors_[static_cast<size_t>(e)]); }
  /// The owning worker's state-change log of this target (see StateLog).
  StateLog& state_log() { return state_log_; }

  /// Reader side.
  void Read(TargetSnapshot* out) const;
  /// Reads only TargetCounters' fields, consistent with each other as in Read().
  void ReadCounters(TargetCounters* out) const;

 private:
  static void Bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  template <typename F>
  void ReadConsistent(F&& read) const;
  static void StoreDouble(std::atomic<uint64_t>& a, double v);
  static double LoadDouble(const std::atomic<uint64_t>& a);

  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> has_round_{0}, round_sent_{0}, round_received_{0};
  std::atomic<uint64_t> rtt_min_{0}, rtt_avg_{0}, rtt_max_{0}, rtt_stddev_{0};
  std::atomic<uint64_t> reply_ttl_{0}, last_round_time_{0};
  std::atomic<uint64_t> sent_total_{0}, received_total_{0};
  std::atomic<uint64_t> rtt_sum_{0}, rtt_count_{0};
  std::shared_ptr<const SeriesOptions> options_;
  std::span<const double> bounds_;                    // options_->rtt_buckets when classic
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, +Inf last
  std::unique_ptr<NativeBuckets> native_;             // null unless native
  std::atomic<uint64_t> duplicates_{0}, late_{0}, invalid_{0}, out_of_order_{0};
  std::atomic<uint64_t> jitter_{0};  // double bits; the sign bit set (-1): not yet known
  std::array<std::atomic<uint64_t>, kSendErrorCount> send_errors_{};
  StateLog state_log_;
};

/// A target as the store holds it: identity plus results. Both halves are
/// shared with the worker that probes it; a reload can pair an unchanged
/// target's stats with a new identity (its address moved) and keep its history.
struct TargetEntry {
  std::shared_ptr<const TargetInfo> info;
  std::shared_ptr<TargetStats> stats;
  static TargetEntry Make(TargetInfo info, std::shared_ptr<const SeriesOptions> options);
};

/// The current set of targets. Thread-safe: Replace() swaps the whole set
/// (reload), Current() hands readers a snapshot pointer that stays valid.
class ResultStore {
 public:
  using TargetList = std::vector<TargetEntry>;
  ResultStore();

  void Replace(std::shared_ptr<const TargetList> targets);
  std::shared_ptr<const TargetList> Current() const;

 private:
  mutable std::mutex mu_;  // guards only the pointer swap, never the probe path
  std::shared_ptr<const TargetList> targets_;
};

}  // namespace ping_exporter::metrics
