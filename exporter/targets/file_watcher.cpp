#include "targets/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

namespace ping_exporter::targets {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Events that can mean a watched name now has other content, or is gone.
constexpr uint32_t kDirMask = IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE |
                              IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                              IN_ONLYDIR;

int PollTimeoutMs(Duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

std::string ErrnoText(const char* what) {
  return std::string(what) + ": " + std::generic_category().message(errno);
}

}  // namespace

Expected<std::unique_ptr<FileWatcher>, std::string> FileWatcher::Start(
    const std::vector<std::string>& paths, std::function<void()> on_change, Options options) {
  Fd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify.valid()) return MakeUnexpected(ErrnoText("inotify_init1"));
  Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) return MakeUnexpected(ErrnoText("eventfd"));
  std::unique_ptr<FileWatcher> w(
      new FileWatcher(std::move(inotify), std::move(wake), std::move(on_change), options));
  for (const std::string& p : paths) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(p, ec);
    if (ec) abs = p;
    abs = abs.lexically_normal();
    w->dirs_[abs.parent_path().string()].names.insert(abs.filename().string());
  }
  w->AddMissingWatches();
  try {
    w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  } catch (const std::system_error& e) {
    return MakeUnexpected("cannot start the file watcher thread: " + std::string(e.what()));
  }
  return w;
}

FileWatcher::FileWatcher(Fd inotify, Fd wake, std::function<void()> on_change, Options options)
    : inotify_(std::move(inotify)),
      wake_(std::move(wake)),
      on_change_(std::move(on_change)),
      options_(options) {}

FileWatcher::~FileWatcher() { Stop(); }

void FileWatcher::Stop() {
  stopping_.store(true);
  uint64_t one = 1;
  // Failure is impossible short of a counter overflow; the flag is checked on every wakeup.
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool FileWatcher::AddMissingWatches() {
  bool added = false;
  for (auto& [dir, d] : dirs_) {
    if (d.wd >= 0) continue;
    int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), kDirMask);
    if (wd < 0) continue;  // missing or unreadable: retried later
    // Two paths of one directory (symlinks, bind mounts) get the same descriptor.
    d.wd = wd;
    std::vector<std::string>& shared = dirs_of_wd_[wd];
    if (std::find(shared.begin(), shared.end(), dir) == shared.end()) shared.push_back(dir);
    added = true;
  }
  return added;
}

bool FileWatcher::ReadEvents() {
  bool relevant = false;
  alignas(inotify_event) char buf[16384];
  while (true) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      inotify_event ev;
      std::memcpy(&ev, p, sizeof ev);
      const char* name = p + sizeof(inotify_event);
      p += sizeof(inotify_event) + ev.len;
      if (ev.mask & IN_Q_OVERFLOW) {
        relevant = true;  // events were lost: assume the worst
        continue;
      }
      auto it = dirs_of_wd_.find(ev.wd);
      if (it == dirs_of_wd_.end()) continue;
      if (ev.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        // The directory is gone (or moved, and the watch would follow it to the wrong path):
        // watch the path again once something is there.
        if (!(ev.mask & IN_IGNORED)) ::inotify_rm_watch(inotify_.get(), ev.wd);
        for (const std::string& dir : it->second) dirs_[dir].wd = -1;
        dirs_of_wd_.erase(it);
        relevant = true;
        continue;
      }
      if (ev.len == 0) continue;
      std::string entry(name, strnlen(name, ev.len));
      // "..data" and friends: Kubernetes' atomic writer swaps those to update a ConfigMap.
      if (entry.rfind("..", 0) == 0) relevant = true;
      for (const std::string& dir : it->second) {
        if (dirs_[dir].names.count(entry) != 0) relevant = true;
      }
    }
  }
  return relevant;
}

void FileWatcher::Run() {
  bool pending = false;  // an unreported relevant event since the last call
  SteadyClock::time_point first_event{};
  SteadyClock::time_point last_event{};
  const Duration max_delay = options_.debounce * 10;
  while (!stopping_.load()) {
    bool missing =
        std::any_of(dirs_.begin(), dirs_.end(), [](const auto& e) { return e.second.wd < 0; });
    int timeout_ms = -1;
    SteadyClock::time_point now = SteadyClock::now();
    if (pending) {
      SteadyClock::time_point due =
          std::min(last_event + options_.debounce, first_event + max_delay);
      timeout_ms = PollTimeoutMs(due - now);
    }
    if (missing) {
      int retry_ms = PollTimeoutMs(options_.retry);
      timeout_ms = timeout_ms < 0 ? retry_ms : std::min(timeout_ms, retry_ms);
    }
    pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    int rc = ::poll(fds, 2, timeout_ms);
    if (stopping_.load()) break;
    if (rc < 0 && errno != EINTR) {
      // Not expected with valid descriptors; keep going rather than spin.
      timeout_ms = PollTimeoutMs(options_.retry);
      ::poll(nullptr, 0, timeout_ms);
      continue;
    }
    bool changed = false;
    if (rc > 0 && (fds[0].revents & POLLIN)) changed = ReadEvents();
    if (missing && AddMissingWatches()) changed = true;
    now = SteadyClock::now();
    if (changed) {
      if (!pending) first_event = now;
      pending = true;
      last_event = now;
    }
    if (pending && (now >= last_event + options_.debounce || now >= first_event + max_delay)) {
      pending = false;
      try {
        on_change_();
      } catch (...) {
        // The watcher must outlive a failing callback; the caller logs its own errors.
      }
    }
  }
}

}  // namespace ping_exporter::targets
