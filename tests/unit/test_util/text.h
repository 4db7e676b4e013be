#pragma once
// Text helpers for assertions on logs and rendered pages.

#include <cstddef>
#include <string_view>

namespace ping_exporter::test_util {

/// How many times `what` (not empty) occurs in `text`, overlaps included.
inline size_t CountOf(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace ping_exporter::test_util
