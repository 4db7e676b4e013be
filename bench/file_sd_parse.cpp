// Parses the same generated Prometheus file_sd document with the exporter's JSON reader
// (targets/json.h), yaml-cpp, nlohmann::json and the exporter's whole file_sd paths; prints markdown tables of parse time, peak
// heap, peak RSS growth and the error each gives for broken and hostile inputs.
// Built only with -DPING_EXPORTER_BENCH=ON; see bench/README.md ("file_sd parsers").

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "targets/file_targets.h"
#include "targets/json.h"

namespace {

// ---- a counting allocator: live and peak heap bytes of this process ----
// Replacing the global operator new is process-wide by nature, so the counters are the one
// piece of global state here. yaml-cpp and libstdc++ allocate through it too.
struct HeapCounter {
  size_t live = 0;
  size_t peak = 0;
};
HeapCounter heap;

void* CountedAlloc(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) return nullptr;
  heap.live += malloc_usable_size(p);
  heap.peak = std::max(heap.peak, heap.live);
  return p;
}

void CountedFree(void* p) {
  if (p == nullptr) return;
  heap.live -= malloc_usable_size(p);
  std::free(p);
}

}  // namespace

void* operator new(size_t n) {
  if (void* p = CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }

namespace {

using ping_exporter::targets::ParseFileSd;
namespace json = ping_exporter::targets::json;
using Clock = std::chrono::steady_clock;

// ---- the input ----

/// A pretty-printed file_sd list as generators write it: groups of ten targets (IP literals in
/// 127/8, names under .test, ports) with five labels, one of them Service-discovery metadata.
std::string MakeFileSd(size_t targets) {
  static constexpr const char* kEnv[] = {"prod", "staging", "canary"};
  static constexpr const char* kDc[] = {"fra1", "ams3", "z\xC3\xBCrich-2", "nyc1"};
  static constexpr const char* kRole[] = {"web", "db", "cache", "edge", "batch"};
  std::string out = "[\n";
  char buf[128];
  for (size_t i = 0; i < targets; i += 10) {
    out += i == 0 ? "  {\n    \"targets\": [\n" : ",\n  {\n    \"targets\": [\n";
    for (size_t k = i; k < std::min(i + 10, targets); ++k) {
      if (k % 2 == 0) {
        std::snprintf(buf, sizeof buf, "127.%zu.%zu.%zu:9100", 200 + k / 65536 % 50, k / 256 % 256,
                      k % 256);
      } else {
        std::snprintf(buf, sizeof buf, "node-%06zu.%s.test:9100", k, kDc[k % 4]);
      }
      out += k == i ? "      \"" : ",\n      \"";
      out += buf;
      out += '"';
    }
    std::snprintf(buf, sizeof buf, "%zu", i / 10 % 40);
    out += std::string("\n    ],\n    \"labels\": {\n") + "      \"env\": \"" + kEnv[i % 3] +
           "\",\n      \"datacenter\": \"" + kDc[i / 10 % 4] + "\",\n      \"rack\": \"r" + buf +
           "\",\n      \"role\": \"" + kRole[i / 10 % 5] +
           "\",\n      \"__meta_owner\": \"team-netops\"\n    }\n  }";
  }
  return out + "\n]\n";
}

// ---- one parser, as the bench calls it ----

/// Outcome of one parse: accepted, or an error with its position (0 = none given).
struct Outcome {
  bool ok = true;
  size_t line = 0;
  size_t column = 0;
  std::string message;
};

std::string OneLine(std::string s, size_t max = 150) {
  for (char& c : s) {
    if (c == '\n' || c == '|') c = ' ';
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

/// 1-based line:column of a byte offset (nlohmann reports offsets).
void LineColumnOf(std::string_view text, size_t offset, Outcome& o) {
  offset = std::min(offset, text.size());
  size_t nl = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  o.line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
  o.column = 1 + (nl == std::string_view::npos || offset == 0 ? offset : offset - nl - 1);
}

/// The outcome of an Expected whose error has `position` {line, column} and `message`
/// (json::ParseError, config::Error).
template <typename Result>
Outcome OutcomeOf(const Result& r) {
  if (r) return Outcome{};
  return Outcome{false, r.error().position.line, r.error().position.column, r.error().message};
}

/// Takes the reader's events and keeps nothing: the reader's own cost.
class NullSink final : public ping_exporter::targets::doc::Sink {
 public:
  bool Begin(ping_exporter::targets::doc::Kind, ping_exporter::targets::doc::Position) override {
    return true;
  }
  bool End() override { return true; }
  bool Scalar(ping_exporter::targets::doc::Kind, std::string_view,
              ping_exporter::targets::doc::Position) override {
    return true;
  }
};

struct Parser {
  const char* name;
  // Parses `text`, keeps the tree alive until `after` ran (so peaks include it).
  std::function<Outcome(const std::string& text, const std::function<void()>& after)> run;
};

std::vector<Parser> Parsers() {
  return {
      {"ours (targets/json.h, events to a no-op sink)",
       [](const std::string& text, const std::function<void()>& after) {
         NullSink sink;
         auto r = json::Parse(text, sink);
         after();
         return OutcomeOf(r);
       }},
      {"nlohmann::json 3.11",
       [](const std::string& text, const std::function<void()>& after) {
         try {
           nlohmann::json j = nlohmann::json::parse(text);
           after();
           return Outcome{};
         } catch (const nlohmann::json::parse_error& e) {
           after();
           Outcome o{false, 0, 0, e.what()};
           // byte is 1-based: the character that failed.
           LineColumnOf(text, e.byte == 0 ? 0 : e.byte - 1, o);
           return o;
         } catch (const nlohmann::json::exception& e) {
           after();
           return Outcome{false, 0, 0, e.what()};
         }
       }},
      {"yaml-cpp 0.7 (YAML::Load)",
       [](const std::string& text, const std::function<void()>& after) {
         try {
           YAML::Node doc = YAML::Load(text);
           after();
           return Outcome{};
         } catch (const YAML::Exception& e) {
           after();
           if (e.mark.is_null()) return Outcome{false, 0, 0, e.msg};
           return Outcome{false, static_cast<size_t>(e.mark.line) + 1,
                          static_cast<size_t>(e.mark.column) + 1, e.msg};
         }
       }},
      {"exporter, file_sd JSON (ours + schema)",
       [](const std::string& text, const std::function<void()>& after) {
         auto r = ParseFileSd(text, "sd.json", true);
         after();
         return OutcomeOf(r);
       }},
      {"exporter, file_sd YAML (libyaml events + schema)",
       [](const std::string& text, const std::function<void()>& after) {
         auto r = ParseFileSd(text, "sd.yml", false);
         after();
         return OutcomeOf(r);
       }},
  };
}

// ---- measuring in a child process ----

/// What a child reports back through a pipe.
struct Measured {
  double median_ms = 0;
  double min_ms = 0;
  size_t heap_peak = 0;   // counting allocator, above what was live before the parse
  size_t rss_growth = 0;  // VmHWM after the parse − VmRSS before it (kB → bytes)
  bool ok = false;
  uint32_t line = 0;
  uint32_t column = 0;
  char message[400] = {};
};

size_t StatusKb(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  size_t kb = 0;
  size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0) kb = std::strtoull(line + n + 1, nullptr, 10);
  }
  std::fclose(f);
  return kb;
}

void ResetPeakRss() {
  // "5" resets VmHWM to the current RSS (proc(5), clear_refs).
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

/// Runs `parser` on `text`: once for memory and the outcome, then `runs` timed runs.
/// In a fork so a crash (stack overflow) is reported, not fatal, and peaks start clean.
/// Returns false with `crash` set when the child died.
bool Measure(const Parser& parser, const std::string& text, int runs, Measured& out,
             std::string& crash) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    // A bound, so a runaway parser fails here instead of pushing the machine into swap.
    rlimit as{size_t{8} << 30, size_t{8} << 30};
    ::setrlimit(RLIMIT_AS, &as);
    Measured m;
    malloc_trim(0);
    ResetPeakRss();
    size_t rss_before = StatusKb("VmRSS");
    heap.peak = heap.live;
    size_t live_before = heap.live;
    Outcome o = parser.run(text, [&] {
      m.heap_peak = heap.peak - live_before;
      size_t hwm = StatusKb("VmHWM");
      m.rss_growth = (hwm > rss_before ? hwm - rss_before : 0) * 1024;
    });
    m.ok = o.ok;
    m.line = static_cast<uint32_t>(o.line);
    m.column = static_cast<uint32_t>(o.column);
    std::snprintf(m.message, sizeof m.message, "%s", o.message.c_str());
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      Clock::time_point start = Clock::now();
      parser.run(text, [&] {
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      });
    }
    std::sort(ms.begin(), ms.end());
    if (!ms.empty()) {
      m.median_ms = ms[ms.size() / 2];
      m.min_ms = ms.front();
    }
    ssize_t w = ::write(fds[1], &m, sizeof m);
    ::_exit(w == static_cast<ssize_t>(sizeof m) ? 0 : 1);
  }
  ::close(fds[1]);
  ssize_t got = ::read(fds[0], &out, sizeof out);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got == static_cast<ssize_t>(sizeof out)) return true;
  crash = WIFSIGNALED(status) ? std::string("killed by ") + ::strsignal(WTERMSIG(status))
                              : "exit " + std::to_string(WEXITSTATUS(status));
  return false;
}

double MiB(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

std::string Where(const Measured& m) {
  if (m.line == 0) return "(none)";
  return std::to_string(m.line) + ":" + std::to_string(m.column);
}

// ---- the inputs with errors ----

struct Broken {
  const char* name;
  std::string text;
};

/// Replaces the first occurrence of `from` after `text`'s middle by `to`.
std::string Inject(const std::string& text, std::string_view from, std::string_view to) {
  size_t at = text.find(from, text.size() / 2);
  if (at == std::string::npos) std::abort();
  return text.substr(0, at) + std::string(to) + text.substr(at + from.size());
}

std::vector<Broken> BrokenInputs(const std::string& good) {
  return {
      {"truncated at 60 %", good.substr(0, good.size() * 6 / 10)},
      {"trailing comma in a targets list", Inject(good, "\"\n    ],", "\",\n    ],")},
      {"bad escape `\\q` in a label value", Inject(good, "\"team-netops\"", "\"team\\q\"")},
      {"NUL byte in a label value",
       Inject(good, "\"team-netops\"", std::string("\"team\0netops\"", 13))},
      {"huge number as a label value", Inject(good, "\"team-netops\"", "1e999999")},
      {"100 000 digits as a label value",
       Inject(good, "\"team-netops\"", std::string(100000, '9'))},
      {"deep nesting: 100 000 `[`", std::string(100000, '[')},
      // Valid JSON that only the file_sd schema refuses: where is the bad target?
      {"bad host in a target (schema)", Inject(good, "\"node-", "\"bad host!:9100\", \"node-")},
  };
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {10000, 100000};
  int runs = 7;
  size_t hostile_mb = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--sizes") {
      sizes.clear();
      for (char* s = std::strtok(argv[i + 1], ","); s != nullptr; s = std::strtok(nullptr, ",")) {
        sizes.push_back(std::strtoull(s, nullptr, 10));
      }
    } else if (flag == "--runs") {
      runs = std::atoi(argv[i + 1]);
    } else if (flag == "--hostile-mb") {
      hostile_mb = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--sizes 10000,100000] [--runs 7] [--hostile-mb 8]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<Parser> parsers = Parsers();

  std::printf(
      "| parser | targets | file MB | parse ms, median of %d (min) | peak heap MiB | heap "
      "bytes / file byte | peak RSS growth MiB |\n| --- | --- | --- | --- | --- | --- | --- |\n",
      runs);
  for (size_t n : sizes) {
    std::string text = MakeFileSd(n);
    for (const Parser& p : parsers) {
      Measured m;
      std::string crash;
      if (!Measure(p, text, runs, m, crash)) {
        std::printf("| %s | %zu | %.1f | %s | | | |\n", p.name, n, MiB(text.size()), crash.c_str());
        continue;
      }
      std::printf("| %s | %zu | %.2f | %.1f (%.1f)%s | %.1f | %.1f | %.1f |\n", p.name, n,
                  MiB(text.size()), m.median_ms, m.min_ms, m.ok ? "" : " REJECTED",
                  MiB(m.heap_peak), static_cast<double>(m.heap_peak) / text.size(),
                  MiB(m.rss_growth));
    }
  }

  std::string good = MakeFileSd(10000);
  std::printf(
      "\nBroken inputs (from the 10 000-target file, %zu lines; the error is "
      "injected after its middle):\n\n| input | parser | line:column | message |\n"
      "| --- | --- | --- | --- |\n",
      static_cast<size_t>(std::count(good.begin(), good.end(), '\n')));
  for (const Broken& b : BrokenInputs(good)) {
    for (const Parser& p : parsers) {
      Measured m;
      std::string crash;
      if (!Measure(p, b.text, 0, m, crash)) {
        std::printf("| %s | %s | — | %s |\n", b.name, p.name, crash.c_str());
      } else if (m.ok) {
        std::printf("| %s | %s | — | accepted |\n", b.name, p.name);
      } else {
        std::printf("| %s | %s | %s | %s |\n", b.name, p.name, Where(m).c_str(),
                    OneLine(m.message).c_str());
      }
    }
  }

  // JSON text is also YAML flow syntax, so every parser reads the same bytes.
  std::string labels = R"([{"targets": ["127.0.0.1"], "labels": {)";
  for (int i = 0; i < 80000; ++i) {
    labels += (i == 0 ? "\"l" : ", \"l") + std::to_string(i) + "\": \"v\"";
  }
  labels += "}}]\n";
  std::string dense = R"([{"targets": [)";
  while (dense.size() < (hostile_mb << 20)) dense += "\"a\",";
  dense += "\"a\"]}]\n";
  const std::pair<std::string, std::string> hostile_inputs[] = {
      {std::to_string(hostile_mb) + " MiB of `[`", std::string(hostile_mb << 20, '[')},
      {"one group with 80 000 labels", labels},
      {"one group of " + std::to_string(hostile_mb) + " MiB of `\"a\",` targets", dense},
  };
  for (const auto& [name, hostile] : hostile_inputs) {
    std::printf(
        "\nHostile input: %s (%.2f MiB):\n\n| parser | ms | peak heap MiB | heap bytes / "
        "file byte | peak RSS growth MiB | outcome |\n| --- | --- | --- | --- | --- | --- |\n",
        name.c_str(), MiB(hostile.size()));
    for (const Parser& p : parsers) {
      Measured m;
      std::string crash;
      if (!Measure(p, hostile, 1, m, crash)) {
        std::printf("| %s | — | — | — | — | %s |\n", p.name, crash.c_str());
        continue;
      }
      std::printf("| %s | %.1f | %.1f | %.2f | %.1f | %s %s |\n", p.name, m.median_ms,
                  MiB(m.heap_peak), static_cast<double>(m.heap_peak) / hostile.size(),
                  MiB(m.rss_growth), Where(m).c_str(),
                  m.ok ? "accepted" : OneLine(m.message, 70).c_str());
    }
  }
  return 0;
}
