#include "metrics/format.h"

#include <gtest/gtest.h>

namespace ping_exporter::metrics {
namespace {

TEST(FormatTest, PrometheusAcceptHeadersPickTheirFormat) {
  // What Debian's Prometheus 2.42 sends with --enable-feature=native-histograms (captured).
  EXPECT_EQ(
      NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                      "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                      "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;"
                      "version=0.0.4;q=0.5,*/*;q=0.1"),
      Format::kProtobuf);
  // Other protobuf clients weigh it with a q-value.
  EXPECT_EQ(
      NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                      "encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
      Format::kProtobuf);
  // And without it (captured too): OpenMetrics first.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=1.0.0,application/"
                            "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                            "*/*;q=0.1"),
            Format::kOpenMetrics);
  // Older servers, curl, browsers.
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4;q=1,*/*;q=0.1"), Format::kText);
  EXPECT_EQ(NegotiateFormat("*/*"), Format::kText);
  EXPECT_EQ(NegotiateFormat(""), Format::kText);
  EXPECT_EQ(NegotiateFormat("text/html,application/xhtml+xml"), Format::kText);
}

TEST(FormatTest, QValuesAndParametersDecide) {
  EXPECT_EQ(NegotiateFormat("text/plain;q=0.9, application/openmetrics-text; version=1.0.0; q=0.5"),
            Format::kText);
  EXPECT_EQ(NegotiateFormat("Application/OpenMetrics-Text; Version=\"1.0.0\""),
            Format::kOpenMetrics);
  // Only OpenMetrics 0.0.1, a protobuf that is not delimited MetricFamily, or q=0: not served.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=0.0.1"), Format::kText);
  EXPECT_EQ(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client."
                            "MetricFamily;encoding=text"),
            Format::kText);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=1.0.0;q=0"), Format::kText);
  // Ties go to the earlier range.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text,text/plain"), Format::kOpenMetrics);
}

TEST(FormatTest, ContentTypesAndTrailers) {
  EXPECT_EQ(ContentType(Format::kText), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ContentType(Format::kProtobuf),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
            "encoding=delimited");
  EXPECT_EQ(Trailer(Format::kOpenMetrics), "# EOF\n");
  EXPECT_EQ(Trailer(Format::kText), "");
  EXPECT_EQ(Trailer(Format::kProtobuf), "");
}

}  // namespace
}  // namespace ping_exporter::metrics
