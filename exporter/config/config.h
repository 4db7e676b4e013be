#pragma once
// The exporter's configuration: parsed from TOML, validated, then immutable.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/expected.h"

namespace ping_exporter::config {

/// Which address families a host name resolves to.
enum class Family { kIp4, kIp6, kAny };
std::string_view FamilyName(Family f);

/// Where a value came from in its file (1-based; 0 when not from a file).
struct SourcePosition {
  uint32_t line = 0;
  uint32_t column = 0;
};

/// How one group of targets is probed. Every field has a default.
struct ProbeOptions {
  Duration interval = std::chrono::seconds(1);       ///< start of one round to the next
  Duration timeout = std::chrono::milliseconds(500);  ///< wait for the last request's reply
  Duration spacing = std::chrono::milliseconds(100);  ///< between requests of a round
  uint32_t count = 2;                                 ///< echo requests a round (1..64)
  uint32_t payload_size = 56;                         ///< ICMP payload bytes (>= cookie size, <= 65000)
  std::optional<uint8_t> ttl;                         ///< IP TTL / hop limit; kernel default if unset
  std::optional<uint8_t> tos;                         ///< IPv4 TOS / IPv6 traffic class
  bool dont_fragment = false;                         ///< set DF (IPv4) / no fragmentation (IPv6)
  std::string source_address;                         ///< bind to this local address if set

  /// Time from a round's first request to its result being final.
  Duration RoundLength() const { return spacing * (count - 1) + timeout; }
  bool operator==(const ProbeOptions&) const = default;
};

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by name

/// One `[[targets]]` table.
struct TargetGroup {
  std::string name;                ///< optional `name`; "group-N" (1-based) if not given
  std::vector<std::string> hosts;  ///< as written: IP literals or host names
  std::vector<SourcePosition> host_positions;  ///< parallel to hosts
  Family family = Family::kAny;
  ProbeOptions options;
  Labels labels;  ///< static labels added to every series of the group
  SourcePosition position;
};

/// A complete, validated configuration. A plain value: copy freely.
struct Config {
  uint32_t workers = 0;  ///< 0 means "number of cores"
  ProbeOptions defaults;
  std::vector<TargetGroup> groups;
  std::vector<double> rtt_buckets;  ///< upper bounds in seconds, strictly increasing
  std::string source_name;          ///< file path, or "<embedded default>"
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

/// Parses and validates TOML text. `source_name` is used in error messages.
/// Never throws; every problem is returned as an Error with its position.
ParseResult Parse(std::string_view toml_text, std::string_view source_name);

/// Reads a file and Parse()s it. Unreadable files are an Error too.
ParseResult LoadFile(const std::string& path);

/// The configuration used when no --config.file is given: 127.0.0.1 and ::1.
std::string_view EmbeddedDefaultToml();
ParseResult LoadEmbeddedDefault();

/// Default RTT histogram buckets (seconds), 100µs .. 10s.
std::vector<double> DefaultRttBuckets();

}  // namespace ping_exporter::config
