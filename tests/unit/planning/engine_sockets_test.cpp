// The engine and its worker pool against real loopback sockets: every target
// answers, nothing is lost, the thread count does not depend on the number of
// targets, and reloads and target-file changes keep unchanged targets' history.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "planning/engine.h"
#include "probe/pool.h"
#include "test_util/fake_lookup.h"
#include "test_util/temp_dir.h"
#include "test_util/text.h"

namespace ping_exporter::planning {
namespace {

using probe::Clock;
using std::chrono::milliseconds;

config::ProbeOptions FastOptions() {
  config::ProbeOptions o;
  o.interval = milliseconds(200);
  o.count = 2;
  o.spacing = milliseconds(10);
  o.timeout = milliseconds(100);
  return o;
}

config::Config LoopbackConfig(int v4_hosts, bool with_v6) {
  config::Config c;
  c.workers = 2;
  config::TargetGroup g;
  g.name = "lo";
  g.options = FastOptions();
  g.labels = {{"site", "unit"}};
  for (int i = 1; i <= v4_hosts; ++i) g.hosts.push_back("127.0.1." + std::to_string(i));
  if (with_v6) g.hosts.push_back("::1");
  c.groups.push_back(g);
  return c;
}

int ThreadCount() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "Threads:") {
      int n;
      in >> n;
      return n;
    }
  }
  return -1;
}

// Polls `pred` every 20 ms until it holds or `limit` passes.
template <typename Pred>
bool WaitFor(Pred pred, Duration limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

bool IsRoot() { return geteuid() == 0; }

TEST(WorkerTest, LoopbackTargetsAllAnswer) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kDebug, LogFormat::kLogfmt);
  config::Config c = LoopbackConfig(20, true);
  Engine engine(EngineOptions{icmp::SocketKind::kRaw, 2, Shard{}}, log);
  ASSERT_TRUE(engine.Apply(c));
  EXPECT_EQ(engine.target_count(), 21u);
  // Three rounds per target.
  ASSERT_TRUE(
      WaitFor([&] { return engine.rounds_completed() >= 21 * 3; }, std::chrono::seconds(5)));
  engine.Stop();
  metrics::TargetSnapshot s;
  double oldest = 1e300, newest = 0;
  for (const auto& entry : *engine.store().Current()) {
    entry.stats->Read(&s);
    oldest = std::min(oldest, s.last_round_time);
    newest = std::max(newest, s.last_round_time);
    EXPECT_TRUE(s.has_round) << entry.info->name;
    EXPECT_EQ(s.round_received, 2u) << entry.info->name;
    EXPECT_EQ(s.received_total, s.sent_total) << entry.info->name;
    EXPECT_GT(s.rtt_avg, 0);
    EXPECT_LT(s.rtt_avg, 0.05);
    EXPECT_EQ(s.rtt_count, s.received_total);
    EXPECT_EQ(s.duplicates + s.late + s.invalid, 0u);
    EXPECT_GT(s.reply_ttl, 0);
    EXPECT_EQ(entry.info->labels.size(), 1u);
  }
  // Lateness depends on machine load; the benchmark measures it, this test only
  // checks it is accounted sanely.
  EXPECT_LE(engine.rounds_late(), engine.rounds_completed()) << logs.str();
  // Stopped: stale once three 200 ms intervals, and the 10 s floor, have passed.
  EXPECT_TRUE(engine.StaleTargets(oldest + 9.9).empty());
  EXPECT_EQ(engine.StaleTargets(newest + 10.1).size(), 21u);
}

TEST(WorkerTest, UnresolvableTargetIsDownNotDropped) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kDebug, LogFormat::kLogfmt);
  config::Config c = LoopbackConfig(1, false);
  c.groups[0].hosts.push_back("name.invalid");
  // Never the machine's nameserver: the name fails in a fake resolver.
  auto dns = std::make_shared<test_util::FakeDns>();
  dns->Answer("name.invalid", MakeUnexpected(std::string("Domain name not found")));
  Engine engine(EngineOptions{icmp::SocketKind::kRaw, 1, Shard{},
                              std::make_unique<test_util::FakeLookup>(dns)},
                log);
  ASSERT_TRUE(engine.Apply(c));
  ASSERT_TRUE(WaitFor([&] { return engine.rounds_completed() >= 4; }, std::chrono::seconds(5)));
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics::FamilyWriter writer(metrics::Format::kText);
        engine.RenderStatus(writer);
        return writer.Finish().find("ping_resolve_errors_total{target=\"name.invalid\"}") !=
               std::string::npos;
      },
      std::chrono::seconds(5)));
  engine.Stop();  // joins the resolver's thread, so its log line is written
  metrics::TargetSnapshot s;
  auto list = engine.store().Current();
  ASSERT_EQ(list->size(), 2u);
  (*list)[1].stats->Read(&s);
  EXPECT_TRUE(s.has_round);
  EXPECT_EQ(s.round_received, 0u);
  EXPECT_GT(s.send_errors[static_cast<size_t>(metrics::SendError::kResolve)], 0u);
  EXPECT_NE(logs.str().find("cannot resolve"), std::string::npos);
}

TEST(WorkerTest, ThreadCountDoesNotGrowWithTargets) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kInfo, LogFormat::kLogfmt);
  int base = ThreadCount();
  config::Config small = LoopbackConfig(10, false);
  Engine engine(EngineOptions{icmp::SocketKind::kRaw, 2, Shard{}}, log);
  ASSERT_TRUE(engine.Apply(small));
  int with_small = ThreadCount();
  config::Config big = small;
  big.groups[0].hosts.clear();
  for (int i = 0; i < 2000; ++i) {
    big.groups[0].hosts.push_back("127.1." + std::to_string(i / 250) + "." +
                                  std::to_string(i % 250 + 1));
  }
  ASSERT_TRUE(engine.Apply(big));
  int with_big = ThreadCount();
  // 2 workers + the engine's refresh thread + the resolver service's thread;
  // ThreadSanitizer may add its own background thread at the first thread creation.
  EXPECT_GE(with_small - base, 4);
  EXPECT_LE(with_small - base, 5);
  EXPECT_EQ(with_big, with_small);
  ASSERT_TRUE(WaitFor([&] { return engine.rounds_completed() >= 2000; }, std::chrono::seconds(5)));
}

TEST(WorkerTest, ReloadKeepsCountersOfUnchangedTargets) {
  if (!IsRoot()) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream logs;
  Logger log(logs, LogLevel::kInfo, LogFormat::kLogfmt);
  config::Config c = LoopbackConfig(2, false);
  Engine engine(EngineOptions{icmp::SocketKind::kRaw, 1, Shard{}}, log);
  ASSERT_TRUE(engine.Apply(c));
  ASSERT_TRUE(WaitFor([&] { return engine.rounds_completed() >= 4; }, std::chrono::seconds(5)));
  auto kept = (*engine.store().Current())[0];
  metrics::TargetSnapshot before;
  kept.stats->Read(&before);
  c.groups[0].hosts.erase(c.groups[0].hosts.begin() + 1);
  c.groups[0].hosts.push_back("127.0.2.1");
  ASSERT_TRUE(engine.Apply(c));
  auto list = engine.store().Current();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].stats, kept.stats);  // same stats object: history kept
  EXPECT_EQ((*list)[0].info, kept.info);
  ASSERT_GT(before.sent_total, 0u);
  // The new pool counts on from there, into the stats the store now holds.
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics::TargetSnapshot now;
        (*engine.store().Current())[0].stats->Read(&now);
        return now.sent_total > before.sent_total;
      },
      std::chrono::seconds(5)));
}

}  // namespace
}  // namespace ping_exporter::planning

namespace ping_exporter::planning {
namespace {

// One worker probing the hosts of the target file at `path` ("file-1") every 200 ms.
config::Config FileConfig(const std::string& path) {
  config::Config c;
  c.workers = 1;
  config::TargetFile f;
  f.name = "file-1";
  f.path = path;
  f.options.interval = std::chrono::milliseconds(200);
  f.options.timeout = std::chrono::milliseconds(100);
  f.options.spacing = std::chrono::milliseconds(10);
  f.labels = {{"src", "file"}};
  c.target_files.push_back(f);
  return c;
}

// Replaces `path` the way editors do, so the watcher never sees it half written.
void Replace(const std::string& path, const std::string& text) {
  std::ofstream(path + ".new") << text;
  std::filesystem::rename(path + ".new", path);
}

// An engine over FileConfig(): each test writes the file, then applies config_.
class EngineFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
    ASSERT_FALSE(dir_.path().empty());
  }

  test_util::TempDir dir_;
  const std::string path_ = dir_ / "hosts.txt";
  std::ostringstream logs_;
  Logger log_{logs_, LogLevel::kInfo, LogFormat::kLogfmt};
  config::Config config_ = FileConfig(path_);
  Engine engine_{EngineOptions{icmp::SocketKind::kRaw, 1, Shard{}}, log_};
};

TEST_F(EngineFileTest, TargetFileChangesApplyWithoutReload) {
  Replace(path_, "127.0.4.1\n127.0.4.2\n");
  ASSERT_TRUE(engine_.Apply(config_));
  EXPECT_EQ(engine_.target_count(), 2u);
  auto kept = (*engine_.store().Current())[0];
  ASSERT_EQ(kept.info->name, "127.0.4.1");
  ASSERT_TRUE(WaitFor([&] { return engine_.rounds_completed() >= 2; }, std::chrono::seconds(5)));
  Replace(path_, "127.0.4.1\n127.0.4.2\n127.0.4.3\n");
  ASSERT_TRUE(WaitFor([&] { return engine_.target_count() == 3; }, std::chrono::seconds(5)))
      << logs_.str();
  auto list = engine_.store().Current();
  EXPECT_EQ((*list)[0].stats, kept.stats);  // unchanged target kept its history
  // A broken file keeps the last good content.
  std::ofstream(path_) << "not a host!\n";
  engine_.Refresh();
  EXPECT_EQ(engine_.target_count(), 3u);
  metrics::FamilyWriter writer(metrics::Format::kText);
  engine_.RenderStatus(writer);
  const std::string status = writer.Finish();
  EXPECT_NE(status.find("ping_exporter_target_file_ok{file=\"file-1\""), std::string::npos);
  EXPECT_NE(status.find("\"} 0\n"), std::string::npos) << status;
  engine_.Stop();
}

TEST_F(EngineFileTest, TargetFileProblemsAreLoggedOncePerChange) {
  Replace(path_, "127.0.4.1\n");
  ASSERT_TRUE(engine_.Apply(config_));
  EXPECT_TRUE(engine_.FailingFiles().empty());
  const std::string bad = "target file unusable";

  // Goes bad: one line with where, what and the offending text; re-reads and a reload
  // with the same error say nothing more.
  Replace(path_, "127.0.4.1\n127.0.4.2\nnot a host!\n");
  engine_.Refresh();
  engine_.Refresh();
  ASSERT_TRUE(engine_.Apply(config_));
  EXPECT_EQ(test_util::CountOf(logs_.str(), bad), 1u) << logs_.str();
  EXPECT_NE(logs_.str().find("level=error msg=\"" + bad + ", keeping its last good content\" " +
                             "file=file-1 error=\"" + path_ + ":3:1: \\\"not a host!\\\" is not"),
            std::string::npos)
      << logs_.str();
  EXPECT_NE(logs_.str().find("text=\"not a host!\" targets=1\n"), std::string::npos) << logs_.str();
  std::vector<targets::TargetFileStatus> failing = engine_.FailingFiles();
  ASSERT_EQ(failing.size(), 1u);
  EXPECT_EQ(failing[0].name, "file-1");
  EXPECT_EQ(failing[0].target_count, 1u);
  EXPECT_TRUE(failing[0].failing_since);

  // Another error: another line, however long the offending text, bounded.
  Replace(path_, "127.0.4.1\n" + std::string(100000, 'x') + "!\n");
  engine_.Refresh();
  EXPECT_EQ(test_util::CountOf(logs_.str(), bad), 2u) << logs_.str();
  std::istringstream lines(logs_.str());
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LT(line.size(), path_.size() + 400) << line;
  }

  // Unreadable: reported without quoting anything.
  std::filesystem::rename(path_, path_ + ".away");
  engine_.Refresh();
  EXPECT_EQ(test_util::CountOf(logs_.str(), bad), 3u) << logs_.str();
  std::string last = logs_.str().substr(logs_.str().rfind("level="));
  EXPECT_NE(last.find("cannot read: No such file or directory"), std::string::npos) << last;
  EXPECT_EQ(last.find("text="), std::string::npos) << last;

  // Good again: one line, and no problem left.
  Replace(path_, "127.0.4.3\n");
  engine_.Refresh();
  engine_.Refresh();
  EXPECT_EQ(test_util::CountOf(logs_.str(), "target file usable again"), 1u) << logs_.str();
  EXPECT_EQ(test_util::CountOf(logs_.str(), bad), 3u) << logs_.str();
  EXPECT_TRUE(engine_.FailingFiles().empty());
  engine_.Stop();
}

}  // namespace
}  // namespace ping_exporter::planning
