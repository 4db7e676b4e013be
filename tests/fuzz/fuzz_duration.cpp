// Fuzzes ParseDuration and the FormatDuration round trip. (exporter/http has no
// query-string parser of its own: CivetWeb hands the raw query over, so the
// duration syntax is the remaining hand-written text parser reachable from input.)
// Properties: no crash or undefined behaviour on any text; whatever parses is
// non-negative, and formats to text that parses back to the same value.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ping_exporter::Duration;
  using ping_exporter::fuzz::Require;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<Duration> d = ping_exporter::ParseDuration(text);
  if (!d) return 0;
  Require(d->count() >= 0, "ParseDuration returned a negative duration");
  std::string formatted = ping_exporter::FormatDuration(*d);
  std::optional<Duration> again = ping_exporter::ParseDuration(formatted);
  Require(again.has_value(), "FormatDuration output does not parse");
  Require(*again == *d, "ParseDuration(FormatDuration(d)) != d");
  Require(ping_exporter::FormatDuration(*again) == formatted, "FormatDuration not stable");
  return 0;
}
