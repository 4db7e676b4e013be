#include "metrics/format.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace ping_exporter::metrics {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Splits off the text up to `sep` (or all of it).
std::string_view Next(std::string_view& s, char sep) {
  size_t at = s.find(sep);
  std::string_view head = s.substr(0, at);
  s = at == std::string_view::npos ? std::string_view() : s.substr(at + 1);
  return head;
}

// One media range of an Accept header: its format (none if unknown) and q-value.
struct Offer {
  std::optional<Format> format;
  double q = 1;
};

Offer ParseOffer(std::string_view range) {
  Offer offer;
  const std::string_view type = Trim(Next(range, ';'));
  std::string_view proto, encoding, version;
  while (!range.empty()) {
    std::string_view param = Next(range, ';');
    std::string_view name = Trim(Next(param, '='));
    std::string_view value = Trim(param);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (EqualsNoCase(name, "q")) {
      double q = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), q);
      offer.q = r.ec == std::errc() ? q : 0;
    } else if (EqualsNoCase(name, "proto")) {
      proto = value;
    } else if (EqualsNoCase(name, "encoding")) {
      encoding = value;
    } else if (EqualsNoCase(name, "version")) {
      version = value;
    }
  }
  if (EqualsNoCase(type, "application/vnd.google.protobuf")) {
    if (proto == "io.prometheus.client.MetricFamily" && encoding == "delimited") {
      offer.format = Format::kProtobuf;
    }
  } else if (EqualsNoCase(type, "application/openmetrics-text")) {
    // 1.0.0 only: 0.0.1 differs (no UNIT checks, other counter rules); no version means latest.
    if (version.empty() || version == "1.0.0") offer.format = Format::kOpenMetrics;
  } else if (EqualsNoCase(type, "text/plain") || EqualsNoCase(type, "*/*") ||
             EqualsNoCase(type, "text/*")) {
    if (version.empty() || version == "0.0.4") offer.format = Format::kText;
  }
  return offer;
}

}  // namespace

Format NegotiateFormat(std::string_view accept) {
  Format best = Format::kText;
  double best_q = 0;
  while (!accept.empty()) {
    Offer offer = ParseOffer(Next(accept, ','));
    if (offer.format && offer.q > best_q) {
      best = *offer.format;
      best_q = offer.q;
    }
  }
  return best;
}

std::string_view ContentType(Format format) {
  switch (format) {
    case Format::kOpenMetrics:
      return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case Format::kProtobuf:
      return "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
             "encoding=delimited";
    case Format::kText:
      break;
  }
  return "text/plain; version=0.0.4; charset=utf-8";
}

std::string_view Trailer(Format format) { return format == Format::kOpenMetrics ? "# EOF\n" : ""; }

}  // namespace ping_exporter::metrics
