#include "common/duration.h"

#include <cstdint>
#include <limits>

namespace ping_exporter {
namespace {

struct Unit {
  std::string_view name;
  int64_t nanos;
};

// Longest names first so "ms" wins over "m".
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
    {"d", 86'400'000'000'000},
};

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    // Integer part and optional fraction.
    int64_t whole = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (whole > (std::numeric_limits<int64_t>::max() - 9) / 10) return std::nullopt;
      whole = whole * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    int64_t frac = 0;
    int64_t frac_scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (frac_scale < 1'000'000'000) {
          frac = frac * 10 + (text[i] - '0');
          frac_scale *= 10;
        }
        ++i;
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.name.size()) == u.name) {
        // "m" must not swallow the "m" of "ms".
        if (!unit || u.name.size() > unit->name.size()) unit = &u;
      }
    }
    if (!unit) return std::nullopt;
    i += unit->name.size();
    // frac * nanos / frac_scale without overflow: frac < frac_scale <= 1e9.
    int64_t frac_ns =
        frac * (unit->nanos / frac_scale) + frac * (unit->nanos % frac_scale) / frac_scale;
    if (whole > (std::numeric_limits<int64_t>::max() - frac_ns) / unit->nanos) return std::nullopt;
    int64_t term = whole * unit->nanos + frac_ns;
    if (total > std::numeric_limits<int64_t>::max() - term) return std::nullopt;
    total += term;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  // -INT64_MIN does not exist; one nanosecond off is fine for a display string.
  if (ns == std::numeric_limits<int64_t>::min()) ++ns;
  if (ns < 0) ns = -ns;
  struct Step {
    int64_t nanos;
    const char* suffix;
  };
  constexpr Step kSteps[] = {{1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "us"}, {1, "ns"}};
  for (const Step& s : kSteps) {
    if (ns >= s.nanos) {
      int64_t whole = ns / s.nanos;
      int64_t rest = ns % s.nanos;
      std::string out = sign + std::to_string(whole);
      if (rest != 0) {
        // Fraction of this unit, trailing zeros trimmed.
        std::string frac = std::to_string(rest + s.nanos).substr(1);
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
        out += "." + frac;
      }
      return out + s.suffix;
    }
  }
  return sign + std::to_string(ns) + "ns";
}

}  // namespace ping_exporter
