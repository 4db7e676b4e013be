#pragma once
// The three exposition formats and how a scrape's Accept header picks one, as
// Prometheus negotiates: the highest q-value among the formats offered wins.

#include <cstdint>
#include <string_view>

namespace ping_exporter::metrics {

enum class Format : uint8_t {
  kText,         ///< text/plain; version=0.0.4 (the default)
  kOpenMetrics,  ///< application/openmetrics-text; version=1.0.0
  kProtobuf,     ///< delimited io.prometheus.client.MetricFamily messages (native histograms)
};

/// The format to answer a request with `accept` (its Accept header, "" if none):
/// the acceptable media range with the highest q-value, ties going to the
/// earlier one; text when nothing offered is known. Pure; thread-safe.
Format NegotiateFormat(std::string_view accept);
/// The Content-Type of an answer in `format`.
std::string_view ContentType(Format format);
/// What ends an exposition in `format`: "# EOF\n" for OpenMetrics, else nothing.
std::string_view Trailer(Format format);

}  // namespace ping_exporter::metrics
