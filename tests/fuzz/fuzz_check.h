#pragma once
// A property check for fuzz targets: a failed check must be a crash, so libFuzzer
// stops and saves the input. abort() gives a stack trace under ASan.

#include <cstdio>
#include <cstdlib>

namespace ping_exporter::fuzz {

/// Aborts with `what` when `ok` is false. Used only by the fuzz targets.
inline void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace ping_exporter::fuzz
