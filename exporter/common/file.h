#pragma once
// Reading a whole file that an operator named, at bounded cost whatever the path points at.

#include <cstddef>
#include <string>

#include "common/expected.h"

namespace ping_exporter {

/// What ReadFileCapped() saw of the file it read, besides its bytes.
struct FileFacts {
  /// Its mode lets everyone read it (S_IROTH). The exporter may read other files only because
  /// of who it runs as (root, or their owner), so their content must not be quoted where
  /// others look: logs, the status page.
  bool world_readable = false;
};

/// Reads the regular file at `path` whole, if it holds at most `max_bytes` bytes. Anything
/// else is refused before a byte is read, so no path can block or exhaust memory: a FIFO
/// (opened non-blocking, then refused), a device such as /dev/zero, a directory. Files that
/// grow past the cap while being read are refused too. The error is the reason alone, for
/// the caller to prefix with the file's role: "No such file or directory", "Is a directory",
/// "not a regular file", "file is larger than 64 MiB". Never throws except std::bad_alloc;
/// thread-safe.
/// Fills `facts` (if not null) when it succeeds.
Expected<std::string, std::string> ReadFileCapped(const std::string& path, size_t max_bytes,
                                                  FileFacts* facts = nullptr);

}  // namespace ping_exporter
