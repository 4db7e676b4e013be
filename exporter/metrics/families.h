#pragma once
// Every metric family the exporter writes, declared once: name, type, unit,
// help and label names. Writers read these entries and never spell a family
// name themselves, so /metrics, /probe and the README cannot drift apart.
// Entries are constexpr: writers resolve them at compile time, and a scrape
// pays no lookup per series.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ping_exporter::metrics {

/// The kind of a family, as the exposition formats know it.
enum class MetricType : uint8_t {
  kCounter,
  kGauge,
  kHistogram,
  kStateSet,  ///< one 0/1 series per state, exactly one of them 1
};

/// The TYPE word of the text format 0.0.4, which has no state sets (a gauge).
constexpr std::string_view TextTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGauge:
    case MetricType::kStateSet:
      break;
  }
  return "gauge";
}

/// The TYPE word of OpenMetrics 1.0. State sets stay gauges: OpenMetrics would
/// name their label after the family, and the label is `status` in every format.
constexpr std::string_view OpenMetricsTypeName(MetricType type) { return TextTypeName(type); }

/// Nested sets of per-target families (config key `metrics`), each holding the
/// one before: a family belongs to its Family::profile and every larger one.
enum class Profile : uint8_t {
  kMinimal,  ///< up, loss, the RTT histogram and the packet counters
  kDefault,  ///< + jitter and the anomaly counters (replies duplicated, late, out of order,
             ///< invalid; send errors)
  kFull,     ///< + the last round's state, packets, RTT statistics, reply TTL and time
};
/// "minimal", "default", "full": the config's words.
constexpr std::string_view ProfileName(Profile p) {
  switch (p) {
    case Profile::kMinimal:
      return "minimal";
    case Profile::kDefault:
      return "default";
    case Profile::kFull:
      break;
  }
  return "full";
}

/// When a per-target series whose value is zero is written. Anomaly counters
/// stay zero on a healthy network: leaving them out until they count is the
/// series budget (a first increment is then seen by `> 0`, not by increase()).
enum class Zeros : uint8_t {
  kAlways,  ///< always
  kInFull,  ///< only for targets of Profile::kFull (the metrics contract), else once non-zero
  kNever,   ///< never: a series appears once it counted something
};

/// Whose series a family holds.
enum class Scope : uint8_t {
  kTarget,    ///< per target, with its identity labels (TargetInfo::label_text) first
  kProbe,     ///< the /probe answer's own (blackbox style)
  kExporter,  ///< the exporter's own bookkeeping
  kProcess,   ///< the standard process collector
};

/// One family. Immutable data; thread-safe to read.
struct Family {
  std::string_view name{};
  MetricType type = MetricType::kGauge;
  /// The base unit the name ends in (before `_total`), "" for none.
  std::string_view unit{};
  /// Label names, in the order series carry them; a per-target family's come
  /// after the identity labels. Histograms' `le` is implied by the type.
  std::array<std::string_view, 2> labels{};
  Scope scope = Scope::kExporter;
  /// kTarget only: the family describes the last round alone, so an on-demand
  /// /probe round answers with it too.
  bool round = false;
  /// kTarget only: the smallest profile whose targets expose the family on /metrics.
  Profile profile = Profile::kMinimal;
  /// kTarget only: whether a zero-valued series is written.
  Zeros zeros = Zeros::kAlways;
  std::string_view help{};

  constexpr size_t label_count() const {
    size_t n = 0;
    while (n < labels.size() && !labels[n].empty()) ++n;
    return n;
  }
  /// The family's name in OpenMetrics: a counter's without its `_total`, which
  /// only its sample carries.
  constexpr std::string_view open_metrics_name() const {
    if (type == MetricType::kCounter && name.ends_with("_total")) {
      return name.substr(0, name.size() - 6);
    }
    return name;
  }
};

namespace family {

// Per-target families, in the order /metrics writes them.
inline constexpr Family kUp{
    .name = "ping_up",
    .scope = Scope::kTarget,
    .round = true,
    .help = "1 if the last completed round got at least one valid reply, else 0."};
inline constexpr Family kStatus{
    .name = "ping_status",
    .type = MetricType::kStateSet,
    .labels = {"status"},
    .scope = Scope::kTarget,
    .round = true,
    .profile = Profile::kFull,
    .help = "State of the last completed round: alive (all replies), partial, no_response."};
inline constexpr Family kRoundPacketsSent{
    .name = "ping_round_packets_sent",
    .scope = Scope::kTarget,
    .round = true,
    .profile = Profile::kFull,
    .help = "Echo requests sent in the last completed round."};
inline constexpr Family kRoundPacketsReceived{
    .name = "ping_round_packets_received",
    .scope = Scope::kTarget,
    .round = true,
    .profile = Profile::kFull,
    .help = "Valid echo replies in the last completed round."};
inline constexpr Family kPacketsSent{.name = "ping_packets_sent_total",
                                     .type = MetricType::kCounter,
                                     .scope = Scope::kTarget,
                                     .help = "Echo requests sent since the target appeared."};
inline constexpr Family kPacketsReceived{.name = "ping_packets_received_total",
                                         .type = MetricType::kCounter,
                                         .scope = Scope::kTarget,
                                         .help = "Valid echo replies since the target appeared."};
inline constexpr Family kLossRatio{
    .name = "ping_loss_ratio",
    .unit = "ratio",
    .scope = Scope::kTarget,
    .round = true,
    .help = "Fraction of the last round's requests without a valid reply (0..1)."};
inline constexpr Family kRtt{.name = "ping_rtt_seconds",
                             .type = MetricType::kHistogram,
                             .unit = "seconds",
                             .scope = Scope::kTarget,
                             .help = "Round-trip time of every valid reply."};
inline constexpr Family kRoundRtt{
    .name = "ping_round_rtt_seconds",
    .unit = "seconds",
    .labels = {"stat"},
    .scope = Scope::kTarget,
    .round = true,
    .profile = Profile::kFull,
    .help = "Round-trip time statistics of the last completed round (absent without replies)."};
inline constexpr Family kJitter{
    .name = "ping_jitter_seconds",
    .unit = "seconds",
    .scope = Scope::kTarget,
    .profile = Profile::kDefault,
    .help =
        "RFC 3550 interarrival jitter of the valid replies' round-trip times (from the "
        "second reply on)."};
inline constexpr Family kReplyTtl{.name = "ping_reply_ttl",
                                  .scope = Scope::kTarget,
                                  .round = true,
                                  .profile = Profile::kFull,
                                  .help = "TTL or hop limit of the last valid reply."};
inline constexpr Family kDuplicateReplies{.name = "ping_duplicate_replies_total",
                                          .type = MetricType::kCounter,
                                          .scope = Scope::kTarget,
                                          .profile = Profile::kDefault,
                                          .zeros = Zeros::kInFull,
                                          .help = "Second and later replies to the same request."};
inline constexpr Family kLateReplies{.name = "ping_late_replies_total",
                                     .type = MetricType::kCounter,
                                     .scope = Scope::kTarget,
                                     .profile = Profile::kDefault,
                                     .zeros = Zeros::kInFull,
                                     .help = "Replies that arrived after their round's timeout."};
inline constexpr Family kOutOfOrderReplies{
    .name = "ping_out_of_order_replies_total",
    .type = MetricType::kCounter,
    .scope = Scope::kTarget,
    .profile = Profile::kDefault,
    .zeros = Zeros::kInFull,
    .help = "Replies (in time or late) that arrived after a reply to a later request."};
inline constexpr Family kInvalidReplies{
    .name = "ping_invalid_replies_total",
    .type = MetricType::kCounter,
    .scope = Scope::kTarget,
    .profile = Profile::kDefault,
    .zeros = Zeros::kInFull,
    .help = "Replies that failed validation (source, identifier, cookie, payload)."};
inline constexpr Family kSendErrors{
    .name = "ping_send_errors_total",
    .type = MetricType::kCounter,
    .labels = {"reason"},
    .scope = Scope::kTarget,
    .profile = Profile::kDefault,
    .zeros = Zeros::kNever,
    .help = "Requests that failed, by reason (local send errors and ICMP errors)."};
inline constexpr Family kLastRoundTimestamp{
    .name = "ping_last_round_timestamp_seconds",
    .unit = "seconds",
    .scope = Scope::kTarget,
    .profile = Profile::kFull,
    .help = "Wall-clock time the last round completed, seconds since the epoch."};

// The /probe answer's own.
inline constexpr Family kProbeSuccess{.name = "probe_success",
                                      .scope = Scope::kProbe,
                                      .help = "1 if the round got at least one valid reply."};
inline constexpr Family kProbeDuration{.name = "probe_duration_seconds",
                                       .unit = "seconds",
                                       .scope = Scope::kProbe,
                                       .help = "Time the probe took, name resolution included."};

// The exporter's own.
inline constexpr Family kBuildInfo{.name = "ping_exporter_build_info",
                                   .labels = {"version", "revision"},
                                   .help = "Build information; the value is always 1."};
inline constexpr Family kReloadSuccessful{
    .name = "ping_exporter_config_last_reload_successful",
    .help = "1 if the last configuration load or reload succeeded."};
inline constexpr Family kReloadSuccessTimestamp{
    .name = "ping_exporter_config_last_reload_success_timestamp_seconds",
    .unit = "seconds",
    .help = "Wall-clock time of the last successful configuration load."};
inline constexpr Family kTargets{.name = "ping_exporter_targets",
                                 .help = "Targets currently configured."};
inline constexpr Family kWorkers{.name = "ping_exporter_workers", .help = "Prober threads."};
inline constexpr Family kRoundsLate{
    .name = "ping_exporter_rounds_late_total",
    .type = MetricType::kCounter,
    .help = "Rounds that started later than their slot plus tolerance (or were skipped)."};
inline constexpr Family kRounds{.name = "ping_exporter_rounds_total",
                                .type = MetricType::kCounter,
                                .help = "Rounds completed, all targets."};
inline constexpr Family kUnmatchedReplies{
    .name = "ping_exporter_unmatched_replies_total",
    .type = MetricType::kCounter,
    .help = "Malformed or foreign replies that no configured target could be blamed for."};
inline constexpr Family kProbeRefused{
    .name = "ping_exporter_probe_refused_total",
    .type = MetricType::kCounter,
    .help = "/probe requests refused because the target is not in --probe.allow."};
inline constexpr Family kProbeBusy{
    .name = "ping_exporter_probe_busy_total",
    .type = MetricType::kCounter,
    .help = "/probe requests answered 503 because --probe.max-concurrent probes were running."};
inline constexpr Family kProbeInvalid{.name = "ping_exporter_probe_invalid_total",
                                      .type = MetricType::kCounter,
                                      .help = "/probe requests answered 400 (bad query)."};
inline constexpr Family kProbes{
    .name = "ping_exporter_probes_total",
    .type = MetricType::kCounter,
    .labels = {"result"},
    .help = "/probe rounds run, by result (success: at least one reply)."};
inline constexpr Family kProbesInFlight{.name = "ping_exporter_probes_in_flight",
                                        .help = "/probe requests running now."};
inline constexpr Family kTargetFileOk{
    .name = "ping_exporter_target_file_ok",
    .labels = {"file", "path"},
    .help =
        "1 if the target file's latest read succeeded; 0 means its last good content is "
        "still in use."};
inline constexpr Family kTargetFileTargets{.name = "ping_exporter_target_file_targets",
                                           .labels = {"file", "path"},
                                           .help = "Hosts taken from the target file."};
inline constexpr Family kResolveErrors{.name = "ping_resolve_errors_total",
                                       .type = MetricType::kCounter,
                                       .labels = {"target"},
                                       .help = "Failed resolutions of a target's host name."};

// The standard process collector.
inline constexpr Family kProcessCpu{.name = "process_cpu_seconds_total",
                                    .type = MetricType::kCounter,
                                    .unit = "seconds",
                                    .scope = Scope::kProcess,
                                    .help = "Total user and system CPU time spent in seconds."};
inline constexpr Family kProcessVirtualMemory{.name = "process_virtual_memory_bytes",
                                              .unit = "bytes",
                                              .scope = Scope::kProcess,
                                              .help = "Virtual memory size in bytes."};
inline constexpr Family kProcessResidentMemory{.name = "process_resident_memory_bytes",
                                               .unit = "bytes",
                                               .scope = Scope::kProcess,
                                               .help = "Resident memory size in bytes."};
inline constexpr Family kProcessStartTime{
    .name = "process_start_time_seconds",
    .unit = "seconds",
    .scope = Scope::kProcess,
    .help = "Start time of the process since unix epoch in seconds."};
inline constexpr Family kProcessThreads{.name = "process_threads",
                                        .scope = Scope::kProcess,
                                        .help = "Number of OS threads in the process."};
inline constexpr Family kProcessOpenFds{.name = "process_open_fds",
                                        .scope = Scope::kProcess,
                                        .help = "Number of open file descriptors."};
inline constexpr Family kProcessMaxFds{.name = "process_max_fds",
                                       .scope = Scope::kProcess,
                                       .help = "Maximum number of open file descriptors."};

}  // namespace family

/// Every family above, per-target ones first in /metrics order. For writers
/// that walk the whole table (README check, future exposition formats).
inline constexpr auto kAllFamilies = std::to_array<const Family*>({
    &family::kUp,
    &family::kStatus,
    &family::kRoundPacketsSent,
    &family::kRoundPacketsReceived,
    &family::kPacketsSent,
    &family::kPacketsReceived,
    &family::kLossRatio,
    &family::kRtt,
    &family::kRoundRtt,
    &family::kJitter,
    &family::kReplyTtl,
    &family::kDuplicateReplies,
    &family::kLateReplies,
    &family::kOutOfOrderReplies,
    &family::kInvalidReplies,
    &family::kSendErrors,
    &family::kLastRoundTimestamp,
    &family::kProbeSuccess,
    &family::kProbeDuration,
    &family::kBuildInfo,
    &family::kReloadSuccessful,
    &family::kReloadSuccessTimestamp,
    &family::kTargets,
    &family::kWorkers,
    &family::kRoundsLate,
    &family::kRounds,
    &family::kUnmatchedReplies,
    &family::kProbeRefused,
    &family::kProbeBusy,
    &family::kProbeInvalid,
    &family::kProbes,
    &family::kProbesInFlight,
    &family::kTargetFileOk,
    &family::kTargetFileTargets,
    &family::kResolveErrors,
    &family::kProcessCpu,
    &family::kProcessVirtualMemory,
    &family::kProcessResidentMemory,
    &family::kProcessStartTime,
    &family::kProcessThreads,
    &family::kProcessOpenFds,
    &family::kProcessMaxFds,
});

/// The family called `name`, or nullptr.
constexpr const Family* FindFamily(std::string_view name) {
  for (const Family* f : kAllFamilies) {
    if (f->name == name) return f;
  }
  return nullptr;
}

}  // namespace ping_exporter::metrics
