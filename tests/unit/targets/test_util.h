#pragma once
// Helpers shared by the targets tests.

#include <filesystem>
#include <string>
#include <system_error>

#include "test_util/temp_dir.h"

namespace ping_exporter::targets::test_util {

using ping_exporter::test_util::TempDir;
using ping_exporter::test_util::WriteFile;

/// Replaces `path` the way editors and config tools do: write a temporary, rename over.
inline bool ReplaceFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp~";
  if (!WriteFile(tmp, text)) return false;
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace ping_exporter::targets::test_util
