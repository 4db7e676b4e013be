#pragma once
// Tells when target files change, so they are re-read without a reload.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/duration.h"
#include "common/expected.h"
#include "common/fd.h"

namespace ping_exporter::targets {

/// Watches files through inotify on their parent directories, so every way a file gets
/// replaced is seen: in-place writes, editors' and config tools' write-then-rename, delete
/// and recreate, and Kubernetes ConfigMap updates (which swap a "..data" symlink in the same
/// directory). A directory that is missing (or removed later) is looked for again every
/// `retry`; when it appears, on_change() runs.
///
/// on_change() runs on the watcher's own thread, after `debounce` without further events
/// (and at the latest 10 * debounce after the first), so a burst of writes gives one call.
/// It may run with nothing changed (e.g. a file touched): callers compare content. It must
/// not call Stop() or destroy the watcher; exceptions it throws are swallowed.
///
/// RAII, not copyable or movable. Stop() (also run by the destructor) wakes and joins the
/// thread; after it returns on_change() is not running and never runs again. Nothing throws
/// after Start() has returned.
class FileWatcher {
 public:
  struct Options {
    Duration debounce = std::chrono::milliseconds(200);
    Duration retry = std::chrono::seconds(1);
  };

  /// Starts watching `paths` (relative ones are taken from the current directory). Fails
  /// only if inotify or the thread cannot be set up (e.g. fs.inotify.max_user_instances).
  static Expected<std::unique_ptr<FileWatcher>, std::string> Start(
      const std::vector<std::string>& paths, std::function<void()> on_change, Options options);
  static Expected<std::unique_ptr<FileWatcher>, std::string> Start(
      const std::vector<std::string>& paths, std::function<void()> on_change) {
    return Start(paths, std::move(on_change), Options{});
  }

  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  void Stop();

 private:
  struct Directory {
    int wd = -1;                  // -1 while not watched (missing)
    std::set<std::string> names;  // watched file names in it
  };

  FileWatcher(Fd inotify, Fd wake, std::function<void()> on_change, Options options);
  bool AddMissingWatches();  // true if a directory became watched
  bool ReadEvents();         // true if an event concerns a watched file
  void Run();

  Fd inotify_;
  Fd wake_;  // eventfd written by Stop()
  std::function<void()> on_change_;
  Options options_;
  std::map<std::string, Directory> dirs_;               // only touched by the thread after Start()
  std::map<int, std::vector<std::string>> dirs_of_wd_;  // several paths may be one directory
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ping_exporter::targets
