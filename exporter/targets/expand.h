#pragma once
// From a Config to the full list of hosts to probe: the inline [[targets]] groups plus the
// hosts of every [[target_files]] file, each with its options and labels.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "targets/file_targets.h"

namespace ping_exporter::targets {

/// One host to probe, not yet resolved. A plain value.
struct TargetSpec {
  std::string host;  ///< as configured (the `target` label)
  config::Family family = config::Family::kAny;
  bool all_addresses = false;
  config::SharedProbeOptions options;  ///< shared by every spec of its group or file
  /// Static labels, sorted by name; never null. Shared by the specs of one group or file
  /// (file_sd targets with labels of their own get their own merged copy).
  std::shared_ptr<const config::Labels> labels = std::make_shared<const config::Labels>();
  std::string origin;  ///< for messages: "config-file:line:column" or "target-file:line"
  std::string source;  ///< name of its [[targets]] group or [[target_files]] table
};

/// How one target file stands. A plain value.
struct TargetFileStatus {
  std::string name;  ///< the [[target_files]] name
  std::string path;  ///< absolute
  bool ok = false;   ///< the latest read and parse succeeded
  /// Why the latest read failed, "path[:line[:column]]: message"; "" if ok. Quotes none of
  /// the file's content when the file is not world-readable (FileFacts).
  std::string error;
  /// The text the error points at (its line, from a little before its column), Escaped() so
  /// at most kMaxShownChars; "" when the error has no position (a file that cannot be read)
  /// or the file is not world-readable.
  std::string excerpt;
  /// Wall time of the latest successful read; unset if the file was never read successfully.
  std::optional<std::chrono::system_clock::time_point> last_success_time;
  /// Wall time of the first failed read since the last good one; unset while ok.
  std::optional<std::chrono::system_clock::time_point> failing_since;
  size_t target_count = 0;  ///< hosts in the content in use (the last good one)
};

/// A host left out because the same host (same IP literal, or same name ignoring case and a
/// trailing dot) was listed earlier.
struct DuplicateTarget {
  std::string host;         ///< as written where it was dropped
  std::string origin;       ///< where it was dropped
  std::string kept_origin;  ///< where the one in use comes from
};

/// Remembers the last good content of each target file, so a file that is broken, half
/// written or missing keeps contributing its last good hosts (none if it never had any), and
/// a file whose bytes did not change is not parsed again.
/// Thread-safe: Load() calls are serialized; Statuses() may run alongside them. Never throws
/// except std::bad_alloc.
class TargetFileCache {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  /// `now` stamps last_success_time; tests pass a fake.
  explicit TargetFileCache(WallClock now = [] { return std::chrono::system_clock::now(); });
  TargetFileCache(const TargetFileCache&) = delete;
  TargetFileCache& operator=(const TargetFileCache&) = delete;

  struct Entry {
    std::shared_ptr<const FileTargets> targets;  ///< never null; empty if never read OK
    TargetFileStatus status;
  };

  /// Reads and (if its bytes, format or family changed) parses `file` now. IP literals that
  /// do not match the file's family fail the file like a syntax error.
  Entry Load(const config::TargetFile& file);

  /// Forgets every file whose path is not listed.
  void Retain(const std::vector<std::string>& paths);

  /// The status of every remembered file, by path.
  std::vector<TargetFileStatus> Statuses() const;

 private:
  struct Remembered {
    std::shared_ptr<const FileTargets> good;  // null until a read succeeds
    size_t good_hash = 0;
    size_t good_size = 0;
    config::TargetFileFormat good_format = config::TargetFileFormat::kLines;
    config::Family good_family = config::Family::kAny;
    TargetFileStatus status;
  };

  WallClock now_;
  std::mutex load_mu_;     // one Load at a time, so an older read never overwrites a newer one
  mutable std::mutex mu_;  // guards files_
  std::map<std::string, Remembered> files_;
};

/// How many duplicates ExpandResult::duplicates lists.
inline constexpr size_t kMaxListedDuplicates = 100;

/// Everything Expand() found. A plain value.
struct ExpandResult {
  std::vector<TargetSpec> specs;  ///< sorted by host (byte order); hosts are unique
  /// The first kMaxListedDuplicates left out, in the order they were found: a file of one
  /// host repeated 4 million times must not cost a record (and a log line) each.
  std::vector<DuplicateTarget> duplicates;
  size_t duplicate_count = 0;           ///< every host left out, listed or not
  std::vector<TargetFileStatus> files;  ///< one per [[target_files]], in config order
};

/// Lists every host of `config`: each [[targets]] group's hosts, then each [[target_files]]
/// file's hosts (read through `cache`, which afterwards remembers only this config's files).
///
/// Duplicates: a host is probed once. The first occurrence wins, in this order: groups as
/// written in the config, then target files in config order, each file top to bottom. Later
/// ones are left out and listed in `duplicates`.
///
/// Labels of a file's host: the [[target_files]] table's `labels`, then the file_sd group's
/// labels on top (the file wins on a clash). A label whose resulting value is empty is left
/// out, as Prometheus treats an empty value as no label.
///
/// Options, family and all_addresses come from the group or the [[target_files]] table.
/// Never throws except std::bad_alloc.
ExpandResult Expand(const config::Config& config, TargetFileCache& cache);

}  // namespace ping_exporter::targets
