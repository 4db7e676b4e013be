#include "metrics/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ping_exporter::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory's own fd
}

}  // namespace

void WriteProcessFamilies(FamilyWriter& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::string stat = ReadFile("/proc/self/stat");
  // Fields after the parenthesised command name, which may contain spaces.
  size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    std::vector<std::string> f;
    while (in >> field) f.push_back(field);
    // f[0] is field 3 (state): utime=14, stime=15, num_threads=20, starttime=22, vsize=23, rss=24.
    if (f.size() > 21) {
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      out.Add(family::kProcessCpu, cpu);
      out.Add(family::kProcessVirtualMemory, std::stod(f[20]));
      out.Add(family::kProcessResidentMemory, std::stod(f[21]) * page);
      out.Add(family::kProcessStartTime, BootTime() + std::stod(f[19]) / ticks);
      out.Add(family::kProcessThreads, std::stod(f[17]));
    }
  }
  int fds = CountOpenFds();
  if (fds >= 0) out.Add(family::kProcessOpenFds, fds);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.Add(family::kProcessMaxFds, static_cast<double>(lim.rlim_cur));
  }
}

}  // namespace ping_exporter::metrics
