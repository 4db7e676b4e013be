// Targets at scale: 100 000 hosts through Parse() and Expand(), checked, timed and weighed
// (figures printed, not asserted).

#include <gtest/gtest.h>
#include <malloc.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "config/config.h"
#include "targets/expand.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PE_SANITIZED 1
#endif
#endif

namespace ping_exporter::targets {
namespace {

using test_util::TempDir;
using test_util::WriteFile;
using SteadyClock = std::chrono::steady_clock;

constexpr int kHosts = 100'000;
constexpr int kGroups = 10;

// Times are printed for optimised builds without sanitizers, as a hint; the figures that
// count come from bench/scale.py.
#if defined(NDEBUG) && !defined(PE_SANITIZED)
constexpr bool kTimed = true;
#else
constexpr bool kTimed = false;
#endif

std::string Loopback(int i) {
  return "127." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
         std::to_string(i & 255);
}

// Bytes currently allocated through malloc (small chunks plus mmap()ed large ones); 0 where
// a sanitizer replaces malloc.
size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time of this thread, in ms: unlike wall time it does not grow when other processes
// share the cores, so the limit below tests the code, not the machine's load.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

TEST(ScaleTest, HundredThousandInlineHostsParseAndExpand) {
  std::string toml = "[defaults]\ninterval = \"10s\"\n";
  for (int g = 0; g < kGroups; ++g) {
    toml += "\n[[targets]]\nname = \"g" + std::to_string(g) + "\"\nlabels = { rack = \"r" +
            std::to_string(g) + "\" }\nhosts = [\n";
    for (int i = g * (kHosts / kGroups); i < (g + 1) * (kHosts / kGroups); ++i) {
      toml += "  \"" + Loopback(i) + "\",\n";
    }
    toml += "]\n";
  }

  size_t heap0 = HeapInUse();
  double c0 = ThreadCpuMs();
  SteadyClock::time_point t0 = SteadyClock::now();
  config::ParseResult parsed = config::Parse(toml, "/etc/ping_exporter/scale.toml");
  SteadyClock::time_point t1 = SteadyClock::now();
  double c1 = ThreadCpuMs();
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  size_t heap1 = HeapInUse();
  TargetFileCache cache;
  double c2 = ThreadCpuMs();
  SteadyClock::time_point t2 = SteadyClock::now();
  ExpandResult r = Expand(*parsed, cache);
  SteadyClock::time_point t3 = SteadyClock::now();
  double c3 = ThreadCpuMs();
  size_t heap2 = HeapInUse();

  ASSERT_EQ(r.specs.size(), static_cast<size_t>(kHosts));
  EXPECT_TRUE(r.duplicates.empty());
  for (size_t i = 1; i < r.specs.size(); ++i) ASSERT_LT(r.specs[i - 1].host, r.specs[i].host);
  EXPECT_EQ(r.specs[0].labels->size(), 1u);
  // One labels list and one options object per group, shared by its 10 000 specs.
  EXPECT_EQ(r.specs[0].labels, r.specs[1].labels);
  EXPECT_EQ(r.specs[0].options.get(), r.specs[1].options.get());

  double parse_ms = c1 - c0;
  double expand_ms = c3 - c2;
  std::printf(
      "[ scale ] %d inline hosts, CPU: Parse %.1f ms + Expand %.1f ms = %.1f ms (wall %.1f ms) "
      "(%s)\n",
      kHosts, parse_ms, expand_ms, parse_ms + expand_ms, Ms(t1 - t0) + Ms(t3 - t2),
      kTimed ? "optimised build" : "debug or sanitizer build: not indicative");
  if (heap0 != 0) {
    std::printf("[ scale ] memory: Config %.0f B/target, specs %.0f B/target (sizeof %zu)\n",
                static_cast<double>(heap1 - heap0) / kHosts,
                static_cast<double>(heap2 - heap1) / kHosts, sizeof(TargetSpec));
  }
  // Printed, not asserted: speed goals live in bench/ (bench/scale.py).
}

TEST(ScaleTest, HundredThousandHostsFromFiles) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string lines;
  std::string json = "[{\"labels\": {\"site\": \"lab\"}, \"targets\": [\n";
  for (int i = 0; i < kHosts; ++i) {
    lines += Loopback(i) + "\n";
    json += std::string(i == 0 ? "" : ",\n") + "\"" + Loopback(kHosts + i) + ":9100\"";
  }
  json += "]}]\n";
  ASSERT_TRUE(WriteFile(dir / "hosts.txt", lines));
  ASSERT_TRUE(WriteFile(dir / "sd.json", json));
  config::ParseResult parsed = config::Parse(
      "[[target_files]]\npath = \"hosts.txt\"\n[[target_files]]\npath = \"sd.json\"\n",
      dir / "pe.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();

  TargetFileCache cache;
  double c0 = ThreadCpuMs();
  ExpandResult first = Expand(*parsed, cache);
  double c1 = ThreadCpuMs();
  ExpandResult again = Expand(*parsed, cache);  // bytes unchanged: read and hashed only
  double c2 = ThreadCpuMs();

  ASSERT_EQ(first.specs.size(), static_cast<size_t>(2 * kHosts));
  ASSERT_EQ(again.specs.size(), first.specs.size());
  for (const TargetFileStatus& s : first.files) EXPECT_TRUE(s.ok) << s.error;
  std::printf(
      "[ scale ] 2 files x %d hosts, CPU: first Expand %.1f ms, with unchanged files %.1f ms\n",
      kHosts, c1 - c0, c2 - c1);
}

}  // namespace
}  // namespace ping_exporter::targets
