#include "targets/file_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "targets/file_targets.h"
#include "test_util.h"

namespace ping_exporter::targets {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test_util::ReplaceFile;
using test_util::TempDir;
using test_util::WriteFile;

// Generous: inotify is prompt, but CI machines under sanitizers can be slow.
constexpr auto kDeadline = seconds(10);

/// Records on_change() calls: how many, and what the file held at each.
class Recorder {
 public:
  explicit Recorder(std::string path) : path_(std::move(path)) {}

  std::function<void()> Callback() {
    return [this] {
      Expected<std::string, std::string> text = ReadWholeFile(path_);
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      content_ = text.has_value() ? *text : "<" + text.error() + ">";
      cv_.notify_all();
    };
  }

  /// Waits until `pred(calls, content)` holds; false on deadline.
  bool WaitFor(const std::function<bool(int, const std::string&)>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return pred(calls_, content_); });
  }
  bool WaitForCalls(int n) {
    return WaitFor([n](int calls, const std::string&) { return calls >= n; });
  }
  bool WaitForContent(const std::string& want) {
    return WaitFor([&](int, const std::string& content) { return content == want; });
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  std::string content_;
};

FileWatcher::Options Fast() {
  FileWatcher::Options o;
  o.debounce = milliseconds(50);
  o.retry = milliseconds(50);
  return o;
}

TEST(FileWatcherTest, FiresOnWriteInPlace) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "targets.txt";
  ASSERT_TRUE(WriteFile(file, "127.0.0.1\n"));
  Recorder rec(file);
  auto w = FileWatcher::Start({file}, rec.Callback());  // default 200ms debounce
  ASSERT_TRUE(w.has_value()) << w.error();
  ASSERT_TRUE(WriteFile(file, "127.0.0.2\n"));
  EXPECT_TRUE(rec.WaitForContent("127.0.0.2\n"));
}

TEST(FileWatcherTest, FiresOnRenameReplace) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "sd.json";
  ASSERT_TRUE(WriteFile(file, "[]"));
  Recorder rec(file);
  auto w = FileWatcher::Start({file}, rec.Callback(), Fast());
  ASSERT_TRUE(w.has_value()) << w.error();
  ASSERT_TRUE(ReplaceFile(file, "[{\"targets\": [\"::1\"]}]"));
  EXPECT_TRUE(rec.WaitForContent("[{\"targets\": [\"::1\"]}]"));
  // A second replacement is seen too: the watch is on the directory, not the old inode.
  ASSERT_TRUE(ReplaceFile(file, "[]"));
  EXPECT_TRUE(rec.WaitForContent("[]"));
}

TEST(FileWatcherTest, FiresOnDeleteAndOnRecreate) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "t.txt";
  ASSERT_TRUE(WriteFile(file, "a\n"));
  Recorder rec(file);
  auto w = FileWatcher::Start({file}, rec.Callback(), Fast());
  ASSERT_TRUE(w.has_value()) << w.error();
  ASSERT_EQ(::unlink(file.c_str()), 0);
  EXPECT_TRUE(rec.WaitForContent("<cannot read: No such file or directory>"));
  ASSERT_TRUE(WriteFile(file, "b\n"));
  EXPECT_TRUE(rec.WaitForContent("b\n"));
}

TEST(FileWatcherTest, DirectoryThatAppearsLaterIsPickedUp) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string sub = dir / "later";
  const std::string file = sub + "/t.txt";
  Recorder rec(file);
  auto w = FileWatcher::Start({file}, rec.Callback(), Fast());
  ASSERT_TRUE(w.has_value()) << w.error();
  ASSERT_TRUE(std::filesystem::create_directory(sub));
  ASSERT_TRUE(WriteFile(file, "x\n"));
  EXPECT_TRUE(rec.WaitForContent("x\n"));

  // Removed with its directory, then both come back.
  std::filesystem::remove_all(sub);
  EXPECT_TRUE(rec.WaitForContent("<cannot read: No such file or directory>"));
  ASSERT_TRUE(std::filesystem::create_directory(sub));
  ASSERT_TRUE(WriteFile(file, "y\n"));
  EXPECT_TRUE(rec.WaitForContent("y\n"));
}

TEST(FileWatcherTest, KubernetesConfigMapSymlinkSwap) {
  // The kubelet's atomic writer: data in a timestamped directory, "..data" points at it, the
  // visible file is a symlink through "..data", and an update renames a new "..data" link in.
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  namespace fs = std::filesystem;
  fs::create_directory(dir / "..2024_01");
  ASSERT_TRUE(WriteFile(dir / "..2024_01/t.txt", "v1\n"));
  fs::create_directory_symlink("..2024_01", dir / "..data");
  fs::create_symlink("..data/t.txt", dir / "t.txt");
  const std::string file = dir / "t.txt";
  Recorder rec(file);
  auto w = FileWatcher::Start({file}, rec.Callback(), Fast());
  ASSERT_TRUE(w.has_value()) << w.error();

  fs::create_directory(dir / "..2024_02");
  ASSERT_TRUE(WriteFile(dir / "..2024_02/t.txt", "v2\n"));
  fs::create_directory_symlink("..2024_02", dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  EXPECT_TRUE(rec.WaitForContent("v2\n"));
}

TEST(FileWatcherTest, BurstOfWritesIsDebounced) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "t.txt";
  ASSERT_TRUE(WriteFile(file, "0\n"));
  Recorder rec(file);
  auto w = FileWatcher::Start({file}, rec.Callback());  // 200ms quiet period
  ASSERT_TRUE(w.has_value()) << w.error();
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE(WriteFile(file, std::to_string(i) + "\n"));
  ASSERT_TRUE(WriteFile(file, "final\n"));
  ASSERT_TRUE(rec.WaitForContent("final\n"));
  // 51 writes (over 150 inotify events) within a few milliseconds: one call, perhaps two if
  // the machine stalled mid-burst for longer than the quiet period.
  EXPECT_LE(rec.calls(), 2);
}

TEST(FileWatcherTest, OtherFilesInTheDirectoryAreIgnored) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "t.txt";
  ASSERT_TRUE(WriteFile(file, "0\n"));
  std::atomic<int> calls{0};
  std::mutex mu;
  std::condition_variable cv;
  FileWatcher::Options o;
  o.debounce = milliseconds(1);  // so unrelated events, if counted, would surely fire apart
  auto w = FileWatcher::Start(
      {file},
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        ++calls;
        cv.notify_all();
      },
      o);
  ASSERT_TRUE(w.has_value()) << w.error();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(WriteFile(dir / "other.txt", std::to_string(i)));
  // The marker is one relevant event (a rename onto the watched name), so a correct watcher
  // calls exactly once; the watcher reads events in order, so the others came before it.
  ASSERT_TRUE(ReplaceFile(file, "1\n"));
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return calls.load() >= 1; }));
  EXPECT_EQ(calls.load(), 1);
}

TEST(FileWatcherTest, ThrowingCallbackDoesNotStopTheWatcher) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "t.txt";
  ASSERT_TRUE(WriteFile(file, "0\n"));
  Recorder rec(file);
  std::function<void()> record = rec.Callback();
  std::atomic<bool> thrown{false};
  auto w = FileWatcher::Start(
      {file},
      [&] {
        record();
        if (!thrown.exchange(true)) throw std::runtime_error("boom");
      },
      Fast());
  ASSERT_TRUE(w.has_value()) << w.error();
  ASSERT_TRUE(WriteFile(file, "1\n"));
  ASSERT_TRUE(rec.WaitForContent("1\n"));
  ASSERT_TRUE(WriteFile(file, "2\n"));
  EXPECT_TRUE(rec.WaitForContent("2\n"));
  EXPECT_TRUE(thrown.load());
}

TEST(FileWatcherTest, StopWaitsForARunningCallbackAndIsIdempotent) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir / "t.txt";
  ASSERT_TRUE(WriteFile(file, "0\n"));
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool release = false;
  std::atomic<int> order{0};
  std::atomic<int> callback_finished_at{0};
  auto w = FileWatcher::Start(
      {file},
      [&] {
        std::unique_lock<std::mutex> lock(mu);
        entered = true;
        cv.notify_all();
        cv.wait_for(lock, kDeadline, [&] { return release; });
        callback_finished_at = ++order;
      },
      Fast());
  ASSERT_TRUE(w.has_value()) << w.error();
  ASSERT_TRUE(WriteFile(file, "1\n"));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return entered; }));
  }
  std::atomic<int> stop_returned_at{0};
  std::thread stopper([&] {
    (*w)->Stop();
    stop_returned_at = ++order;
  });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  stopper.join();
  EXPECT_GT(callback_finished_at.load(), 0);
  EXPECT_GT(stop_returned_at.load(), callback_finished_at.load());
  (*w)->Stop();  // again: a no-op
  w->reset();    // and the destructor after Stop
}

TEST(FileWatcherTest, StopIsPromptWhenIdle) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  FileWatcher::Options o;
  o.retry = seconds(30);  // a missing directory: the thread sleeps in poll() for long
  auto w = FileWatcher::Start(
      {dir / "missing/t.txt"}, [] {}, o);
  ASSERT_TRUE(w.has_value()) << w.error();
  auto start = std::chrono::steady_clock::now();
  (*w)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
}

}  // namespace
}  // namespace ping_exporter::targets
