// The app module's pieces on their own: flag checks, the reload protocol, the
// /metrics composition, the route table and the signal loop.

#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/exposition.h"
#include "app/options.h"
#include "app/problems.h"
#include "app/reloader.h"
#include "app/routes.h"
#include "app/signals.h"

namespace ping_exporter::app {
namespace {

constexpr char kMissingConfig[] = "/nonexistent/ping_exporter_app_test.toml";

// An engine that probes nothing (no Apply), its self metrics and a log to read.
class AppTest : public ::testing::Test {
 protected:
  std::ostringstream log_text_;
  Logger log_{log_text_, LogLevel::kDebug, LogFormat::kLogfmt};
  planning::Engine engine_{planning::EngineOptions{}, log_};
  metrics::SelfMetrics self_{"1.2.3", "abc", [] { return metrics::EngineCounts{}; }};
  ondemand::ProbeCounters probe_counters_;

  std::string SelfText() const {
    metrics::FamilyWriter writer(metrics::Format::kText);
    self_.Render(writer);
    return writer.Finish();
  }
};

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(AppOptionsTest, ChecksSayWhatIsWrong) {
  const std::string path = "must start with / and not be /";
  const std::string timeout = "must be a duration between 100ms and 10m";
  struct Case {
    std::string (*check)(const std::string&);
    std::string value, error;
  };
  for (const Case& c : std::vector<Case>{
           {CheckTelemetryPath, "/metrics", ""},
           {CheckTelemetryPath, "/", path},
           {CheckTelemetryPath, "metrics", path},
           {CheckRequestTimeout, "100ms", ""},
           {CheckRequestTimeout, "10m", ""},
           {CheckRequestTimeout, "99ms", timeout},
           {CheckRequestTimeout, "11m", timeout},
           {CheckSampleInterval, "100ms", ""},
           {CheckSampleInterval, "soon", "must be a duration >= 100ms"},
           {CheckShard, "1/2", ""},
           {CheckShard, "2/2", "must be I/N with 0 <= I < N"},
           {CheckProbeAllow, "127.0.0.0/8,localhost", ""},
           {CheckSourceName, "node-1.example", ""},
           {CheckSourceName, "", ""},  // no source label
           {CheckSourceName, "n\u00f6de \"7\"", ""},
           {CheckSourceName, "n\xff", "must be UTF-8 text"},
       }) {
    EXPECT_EQ(c.check(c.value), c.error) << c.value;
  }
  EXPECT_NE(CheckProbeAllow("127.0.0.0/99"), "");
}

TEST(AppOptionsTest, SourceNameDefaultsToTheHostName) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  EXPECT_EQ(DefaultSourceName(), name);
}

TEST_F(AppTest, InvalidReloadKeepsRunningAndIsRecorded) {
  self_.RecordReload(true, 100.0);
  Reloader reloader(kMissingConfig, engine_, self_, log_);
  std::string error = reloader.Reload();
  EXPECT_NE(error.find(kMissingConfig), std::string::npos) << error;
  EXPECT_TRUE(HasLine(SelfText(), "ping_exporter_config_last_reload_successful 0")) << SelfText();
  EXPECT_TRUE(HasLine(SelfText(), "ping_exporter_config_last_reload_success_timestamp_seconds 100"))
      << SelfText();
  EXPECT_NE(log_text_.str().find("reload refused, keeping the running configuration"),
            std::string::npos)
      << log_text_.str();
  // Kept for the status page until a reload succeeds.
  std::optional<Reloader::Failure> failure = reloader.LastFailure();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error, error);
  EXPECT_GT(failure->time, 1e9);
}

TEST_F(AppTest, ConcurrentReloadsAllGetAnAnswer) {
  Reloader reloader(kMissingConfig, engine_, self_, log_);
  constexpr int kCallers = 8;
  std::vector<std::string> errors(kCallers);
  {
    std::vector<std::jthread> callers;
    for (int i = 0; i < kCallers; ++i) {
      callers.emplace_back([&, i] { errors[static_cast<size_t>(i)] = reloader.Reload(); });
    }
  }
  for (const std::string& error : errors) {
    EXPECT_NE(error.find(kMissingConfig), std::string::npos) << error;
  }
  // Callers that arrive while a reload runs share the next one: at least one reload ran,
  // never more than one per caller.
  std::string log = log_text_.str();
  size_t refused = 0;
  for (size_t at = log.find("reload refused"); at != std::string::npos;
       at = log.find("reload refused", at + 1)) {
    ++refused;
  }
  EXPECT_GE(refused, 1u) << log;
  EXPECT_LE(refused, static_cast<size_t>(kCallers)) << log;
}

TEST_F(AppTest, ValidReloadAppliesTheConfig) {
  if (geteuid() != 0) GTEST_SKIP() << "the engine's raw sockets need root or CAP_NET_RAW";
  Reloader refused(kMissingConfig, engine_, self_, log_);
  EXPECT_NE(refused.Reload(), "");
  EXPECT_TRUE(refused.LastFailure());
  Reloader reloader("", engine_, self_, log_);  // the embedded default: 127.0.0.1 and ::1
  EXPECT_EQ(reloader.Reload(), "");
  EXPECT_FALSE(reloader.LastFailure());
  EXPECT_EQ(engine_.target_count(), 2u);
  EXPECT_TRUE(HasLine(SelfText(), "ping_exporter_config_last_reload_successful 1")) << SelfText();
  EXPECT_NE(log_text_.str().find("configuration reloaded"), std::string::npos);
  engine_.Stop();
}

TEST_F(AppTest, MetricsComeInTheirOrder) {
  probe_counters_.refused = 3;
  std::string scrape;
  WriteMetrics({engine_, self_, probe_counters_}, metrics::Format::kText,
               [&](std::string_view piece) { scrape.append(piece); });
  std::vector<size_t> at;
  for (const char* family :
       {"# HELP ping_exporter_build_info", "ping_exporter_probe_refused_total 3",
        "# HELP ping_resolve_errors_total", "# HELP process_cpu_seconds_total"}) {
    at.push_back(scrape.find(family));
    EXPECT_NE(at.back(), std::string::npos) << family << "\n" << scrape;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << scrape;
}

TEST_F(AppTest, MetricsRouteAnswersInTheNegotiatedFormat) {
  status::History history(std::chrono::seconds(30));
  Reloader reloader(kMissingConfig, engine_, self_, log_);
  auto probe = [](const http::Request&) { return http::Response{}; };
  std::vector<http::Route> routes = MakeRoutes(
      {{engine_, self_, probe_counters_}, {"1.2.3", "/m", "test", ""}, &history, probe, reloader});
  ASSERT_EQ(routes.front().path, "/m");
  http::Request request;
  request.path = "/m";
  request.accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
  http::Response r = routes.front().handler(request);
  EXPECT_EQ(r.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
  std::string body;
  r.stream([&](std::string_view piece) { body.append(piece); });
  ASSERT_GE(body.size(), 6u);
  EXPECT_EQ(body.substr(body.size() - 6), "# EOF\n");
  EXPECT_EQ(body.find("# EOF"), body.size() - 6) << "one EOF, at the end";
  request.accept = "";
  EXPECT_EQ(routes.front().handler(request).content_type,
            "text/plain; version=0.0.4; charset=utf-8");
}

TEST_F(AppTest, RouteTableDeclaresPathsAndMethods) {
  status::History history(std::chrono::seconds(30));
  Reloader reloader(kMissingConfig, engine_, self_, log_);
  auto probe = [](const http::Request&) { return http::Response{}; };
  std::vector<http::Route> routes = MakeRoutes(
      {{engine_, self_, probe_counters_}, {"1.2.3", "/m", "test", ""}, &history, probe, reloader});
  std::vector<std::pair<std::string, std::vector<std::string>>> table;
  for (const http::Route& r : routes) table.emplace_back(r.path, r.methods);
  using Methods = std::vector<std::string>;
  EXPECT_EQ(table, (std::vector<std::pair<std::string, Methods>>{{"/m", {"GET"}},
                                                                 {"/", {"GET"}},
                                                                 {"/probe", {"GET"}},
                                                                 {"/-/healthy", {"GET"}},
                                                                 {"/-/ready", {"GET"}},
                                                                 {"/-/reload", {"POST"}}}));
  std::vector<std::string> unlimited;
  for (const http::Route& r : routes) {
    if (!r.limited) unlimited.push_back(r.path);
  }
  EXPECT_EQ(unlimited, (std::vector<std::string>{"/-/healthy", "/-/ready", "/-/reload"}));
  http::Request post;
  post.method = "POST";
  // Without --web.enable-lifecycle, Prometheus' answer and no reload.
  http::Response refused = routes.back().handler(post);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, "Lifecycle API is not enabled.\n");
  EXPECT_EQ(log_text_.str().find("reload refused"), std::string::npos) << log_text_.str();
  EXPECT_EQ(routes[3].handler(http::Request{}).body, "Healthy\n");

  // With it, the reload runs (and fails here: the file is missing).
  std::vector<http::Route> enabled = MakeRoutes({{engine_, self_, probe_counters_},
                                                 {"1.2.3", "/m", "test", ""},
                                                 &history,
                                                 probe,
                                                 reloader,
                                                 true});
  http::Response reload = enabled.back().handler(post);
  EXPECT_EQ(reload.status, 500);
  EXPECT_EQ(reload.body.rfind("reload failed: ", 0), 0u) << reload.body;
  // The status page lists the refused reload among its problems.
  std::string page = routes[1].handler(http::Request{}).body;
  EXPECT_EQ(page.find("No problems"), std::string::npos) << page;
  EXPECT_NE(page.find("id=\"problem-reload\""), std::string::npos) << page;
  EXPECT_NE(page.find(kMissingConfig), std::string::npos) << page;
}

TEST_F(AppTest, NothingWrongIsNoProblems) {
  Reloader reloader(kMissingConfig, engine_, self_, log_);
  EXPECT_TRUE(CollectProblems(engine_, reloader, 1e9).empty());
}

TEST_F(AppTest, NotReadyBeforeAConfigurationIsApplied) {
  http::Response r = Readiness(engine_);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "Not ready: no configuration applied yet\n");
}

TEST_F(AppTest, SignalLoopReloadsOnHangupAndStopsOnTerm) {
  SignalLoop signals;
  int hangups = 0;
  // Blocked, so both stay pending for this thread until Wait() takes them.
  pthread_kill(pthread_self(), SIGHUP);
  signals.Wait(
      [&] {
        if (++hangups == 1) pthread_kill(pthread_self(), SIGTERM);
      },
      log_);
  EXPECT_EQ(hangups, 1);
  EXPECT_NE(log_text_.str().find("msg=\"shutting down\" signal=SIGTERM"), std::string::npos)
      << log_text_.str();
}

}  // namespace
}  // namespace ping_exporter::app
