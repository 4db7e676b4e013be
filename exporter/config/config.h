#pragma once
// The exporter's configuration: parsed from TOML, validated, then immutable.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/expected.h"
#include "metrics/series_options.h"

namespace ping_exporter::config {

/// Which address families a host name resolves to. kAny takes both, in the order
/// getaddrinfo() returns them: the system's RFC 6724 destination address selection (tunable
/// in /etc/gai.conf). The first address is probed, or every one with `all_addresses`.
enum class Family { kIp4, kIp6, kAny };
/// "ip4", "ip6" or "any": how configs, /probe and flags spell a Family.
std::string_view FamilyName(Family f);
/// The Family that FamilyName() spells `name` (exact, lower case); nullopt for anything else.
std::optional<Family> ParseFamily(std::string_view name);

/// Where a value came from in its file (1-based; 0 when not from a file).
struct SourcePosition {
  uint32_t line = 0;
  uint32_t column = 0;
};

/// Default RTT histogram buckets (seconds), 100µs .. 10s.
std::vector<double> DefaultRttBuckets();

/// How one group of targets is probed, and what its series hold. Every field has a default.
struct ProbeOptions {
  Duration interval = std::chrono::seconds(1);        ///< start of one round to the next
  Duration timeout = std::chrono::milliseconds(500);  ///< wait for the last request's reply
  Duration spacing = std::chrono::milliseconds(100);  ///< between requests of a round
  uint32_t count = 2;                                 ///< echo requests a round (1..64)
  uint32_t payload_size = 56;  ///< ICMP payload bytes (>= cookie size, <= 65000)
  std::optional<uint8_t> ttl;  ///< IP TTL / hop limit; kernel default if unset
  std::optional<uint8_t> tos;  ///< IPv4 TOS / IPv6 traffic class
  bool dont_fragment = false;  ///< set DF (IPv4) / no fragmentation (IPv6)
  std::string source_address;  ///< bind to this local address if set
  Duration resolve_interval = std::chrono::minutes(5);  ///< re-resolve host names this often
  Duration resolve_timeout = std::chrono::seconds(2);   ///< give up on one lookup after this
  std::string interface;           ///< SO_BINDTODEVICE name (<= 15 chars); "" = any interface
  std::optional<uint32_t> fwmark;  ///< SO_MARK for policy routing; unset = no mark
  /// The RTT histogram's buckets: sparse exponential (native), the classic bounds, or both
  /// (classic in the text formats, native in protobuf).
  metrics::RttHistogram rtt_histogram = metrics::RttHistogram::kBoth;
  std::vector<double> rtt_buckets = DefaultRttBuckets();  ///< classic upper bounds (seconds)
  /// Native buckets: the largest growth factor between adjacent buckets (> 1); the schema is
  /// the finest whose factor is at most this (1.1: schema 3, factor 2^(1/8) = 1.0905).
  double rtt_bucket_factor = metrics::kDefaultNativeBucketFactor;
  metrics::Profile metrics = metrics::Profile::kDefault;  ///< which per-target families

  /// Time from a round's first request to its result being final.
  Duration RoundLength() const { return spacing * (count - 1) + timeout; }
  bool operator==(const ProbeOptions&) const = default;
};

/// One group's ProbeOptions, shared read-only by every target of the group: copies share one
/// object, so 100 000 targets hold 100 000 pointers rather than 100 000 copies (two strings
/// each). Converts implicitly from a ProbeOptions (one allocation); default-constructed it holds
/// the defaults. Immutable, so thread-safe to copy and read.
class SharedProbeOptions {
 public:
  SharedProbeOptions();
  SharedProbeOptions(ProbeOptions options);  // NOLINT(google-explicit-constructor): a value
  const ProbeOptions& operator*() const { return *p_; }
  const ProbeOptions* operator->() const { return p_.get(); }
  const ProbeOptions* get() const { return p_.get(); }
  /// Equal values, whether or not the object is the same.
  bool operator==(const SharedProbeOptions& o) const { return p_ == o.p_ || *p_ == *o.p_; }

 private:
  std::shared_ptr<const ProbeOptions> p_;  // never null
};

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by name

/// One `[[targets]]` table.
struct TargetGroup {
  std::string name;                ///< optional `name`; "group-N" (1-based) if not given
  std::vector<std::string> hosts;  ///< as written: IP literals or host names
  std::vector<SourcePosition> host_positions;  ///< parallel to hosts
  Family family = Family::kAny;
  /// false: ping the first address a name resolves to; true: every A/AAAA record (each its own
  /// series, told apart by the `address` label). IP literals are one address either way.
  bool all_addresses = false;
  /// Leave out every address (resolved, or an IP literal) that is one of this machine's own
  /// (common/local_addresses.h): a mesh agent does not ping itself.
  bool exclude_local = false;
  ProbeOptions options;
  Labels labels;  ///< static labels added to every series of the group
  SourcePosition position;
};

/// How a target file is read: one host a line, or Prometheus file_sd (JSON or YAML).
enum class TargetFileFormat { kLines, kFileSd };
std::string_view TargetFileFormatName(TargetFileFormat f);

/// One `[[target_files]]` table: hosts read from a file at run time (targets module).
struct TargetFile {
  std::string name;  ///< optional `name`; "file-N" (1-based) if not given; unique with groups'
  std::string path;  ///< absolute and lexically normal (relative ones are taken from the
                     ///< config file's directory)
  TargetFileFormat format = TargetFileFormat::kLines;  ///< default by extension of `path`
  Family family = Family::kAny;
  bool all_addresses = false;  ///< as in TargetGroup
  bool exclude_local = false;  ///< as in TargetGroup
  ProbeOptions options;        ///< [defaults] with this table's overrides
  Labels labels;               ///< static labels; a file_sd group's own labels win over them
  SourcePosition position;
};

/// A complete, validated configuration. A plain value: copy freely.
struct Config {
  uint32_t workers = 0;  ///< 0 means "number of cores"
  ProbeOptions defaults;
  std::vector<TargetGroup> groups;
  std::vector<TargetFile> target_files;  ///< in file order
  bool group_label = true;               ///< per-target series carry `group` = the group's name
  std::string source_name;               ///< file path, or "<embedded default>"
};

/// A configuration error, pointing at the offending place.
struct Error {
  std::string file;
  SourcePosition position;
  std::string message;
  /// "file:line:column: message" (line/column omitted when 0).
  std::string ToString() const;
};

using ParseResult = Expected<Config, Error>;

/// Parses and validates TOML text. `source_name` is used in error messages, and relative
/// `[[target_files]]` paths are taken from its directory (the current directory when it has
/// none, e.g. "<embedded default>"). Target files are not opened here: they are read at run
/// time by the targets module. Never throws; every problem is returned as an Error with its
/// position.
ParseResult Parse(std::string_view toml_text, std::string_view source_name);

/// Reads a file and Parse()s it. Unreadable files are an Error too.
ParseResult LoadFile(const std::string& path);

/// The configuration used when no --config.file is given: 127.0.0.1 and ::1.
std::string_view EmbeddedDefaultToml();
ParseResult LoadEmbeddedDefault();

// ---- label rules, shared with target files so both accept the same labels ----

/// Prometheus label name grammar [a-zA-Z_][a-zA-Z0-9_]*.
bool IsLabelName(std::string_view s);
/// Names the exporter sets itself or Prometheus adds on scrape: target, address, group, source,
/// status, stat, reason, job, instance.
bool IsReservedLabel(std::string_view s);

}  // namespace ping_exporter::config
