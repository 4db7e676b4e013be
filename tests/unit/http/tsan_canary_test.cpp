// The TSan canary: a data race planted on purpose on two HTTP threads, which a
// ThreadSanitizer build must report with tools/tsan.supp in force. tools/test.sh
// runs it (PE_TSAN_CANARY=1) and fails if TSan stays silent: that would mean a
// suppression, or the build, hides every race on a request thread. Skipped
// everywhere else.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include "http/server.h"
#include "test_util.h"

namespace ping_exporter::http {
namespace {

using std::chrono::seconds;

// Not inlined, so its name is in TSan's report (tools/test.sh looks for it).
[[gnu::noinline]] void PlantedRaceWrite(int* shared, int value) { *shared = value; }

TEST(HttpTsanCanaryTest, PlantedRaceOnTwoRequestThreads) {
  const char* enabled = std::getenv("PE_TSAN_CANARY");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "only with PE_TSAN_CANARY=1 (tools/test.sh, TSan build)";
  }
  std::ostringstream log_text;
  Logger logger(log_text, LogLevel::kWarn, LogFormat::kLogfmt);
  int shared = 0;  // plain int: the race
  std::atomic<int> arrived{0};
  Route route{"/race", [&](const Request&) {
                // Meet the other request first, then write: the meeting orders
                // everything before it, nothing orders the two writes after it.
                arrived.fetch_add(1);
                const auto deadline = std::chrono::steady_clock::now() + seconds(10);
                while (arrived.load() < 2 && std::chrono::steady_clock::now() < deadline) {
                  std::this_thread::yield();
                }
                PlantedRaceWrite(&shared, arrived.load());
                return Response{};
              }};
  // Not limited: the handler runs on CivetWeb's own connection threads, the ones a
  // library-wide suppression of libcivetweb.so would hide.
  route.limited = false;
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.connections = 2;
  std::vector<Route> routes;
  routes.push_back(std::move(route));
  auto server = Server::Start(options, std::move(routes), logger);
  ASSERT_TRUE(server.has_value()) << server.error();
  const uint16_t port = (*server)->port();
  auto first = std::async(std::launch::async, [port] { return testing::Get(port, "/race"); });
  auto second = std::async(std::launch::async, [port] { return testing::Get(port, "/race"); });
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(arrived.load(), 2);
}

}  // namespace
}  // namespace ping_exporter::http
