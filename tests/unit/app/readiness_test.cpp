// /-/ready: 200 once the configuration is applied and every target has completed a round, or
// when this shard has no targets at all; 503 with the reason otherwise.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "app/routes.h"
#include "probe/schedule.h"

namespace ping_exporter::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

config::Config OneGroup(std::initializer_list<const char*> hosts, Duration interval) {
  config::Config c;
  config::TargetGroup g;
  g.options.interval = interval;
  g.options.timeout = milliseconds(100);
  g.options.count = 1;
  for (const char* h : hosts) g.hosts.push_back(h);
  c.groups.push_back(g);
  return c;
}

class ReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  }
  std::ostringstream log_text_;
  Logger log_{log_text_, LogLevel::kWarn, LogFormat::kLogfmt};
};

TEST_F(ReadinessTest, AShardWithNoTargetsIsReady) {
  // The shard of 3 that does not own the only target: --shard=I/3 with one target.
  planning::Shard shard{0, 3};
  while (shard.Owns("127.0.0.1")) ++shard.index;
  planning::Engine engine(planning::EngineOptions{icmp::SocketKind::kRaw, 1, shard}, log_);
  ASSERT_TRUE(engine.Apply(OneGroup({"127.0.0.1"}, seconds(1))));
  ASSERT_EQ(engine.target_count(), 0u);
  http::Response r = Readiness(engine);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Ready\n");
}

TEST_F(ReadinessTest, NotReadyUntilEveryTargetHasCompletedARound) {
  config::Config c = OneGroup({"127.0.0.1"}, milliseconds(100));
  // A second group whose one target's first round is far away: phases are a stable hash.
  config::TargetGroup slow = OneGroup({"127.0.0.2"}, std::chrono::hours(1)).groups[0];
  slow.name = "slow";
  ASSERT_GT(probe::Phase("127.0.0.2", slow.options.interval), std::chrono::minutes(1));
  c.groups.push_back(slow);
  planning::Engine engine(planning::EngineOptions{icmp::SocketKind::kRaw, 1, {}}, log_);
  ASSERT_TRUE(engine.Apply(c));
  auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (engine.rounds_completed() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_GT(engine.rounds_completed(), 0u);
  http::Response r = Readiness(engine);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "Not ready: 1 of 2 targets have not completed a round yet\n");

  // Without the slow target every target soon has a round.
  ASSERT_TRUE(engine.Apply(OneGroup({"127.0.0.1", "::1"}, milliseconds(100))));
  deadline = std::chrono::steady_clock::now() + seconds(5);
  while (Readiness(engine).status != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(Readiness(engine).body, "Ready\n");
}

}  // namespace
}  // namespace ping_exporter::app
