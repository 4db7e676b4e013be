#include "privileges/privileges.h"

#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

namespace ping_exporter::privileges {
namespace {

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// glibc has no capset()/capget() wrappers; the raw syscalls avoid libcap.
int CapGet(__user_cap_header_struct* h, __user_cap_data_struct* d) {
  return static_cast<int>(syscall(SYS_capget, h, d));
}
int CapSet(__user_cap_header_struct* h, const __user_cap_data_struct* d) {
  return static_cast<int>(syscall(SYS_capset, h, d));
}

int LastCap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  if (!(in >> last) || last < 0 || last > 63) last = CAP_LAST_CAP;
  return last;
}

}  // namespace

size_t ThreadCount() {
  struct CloseDir {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> dir(opendir("/proc/self/task"));
  if (!dir) return 0;
  size_t n = 0;
  while (dirent* e = readdir(dir.get())) {
    if (e->d_name[0] != '.') ++n;
  }
  return n;
}

Expected<CapabilitySets, std::string> CurrentCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (CapGet(&header, data) != 0) return MakeUnexpected(Errno("capget"));
  auto join = [](uint32_t lo, uint32_t hi) { return uint64_t{lo} | (uint64_t{hi} << 32); };
  CapabilitySets sets;
  sets.effective = join(data[0].effective, data[1].effective);
  sets.permitted = join(data[0].permitted, data[1].permitted);
  sets.inheritable = join(data[0].inheritable, data[1].inheritable);
  return sets;
}

Expected<Dropped, std::string> DropToUser(std::string_view user, bool keep_net_raw) {
  std::string name(user);
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return MakeUnexpected("--runas.user: no such user \"" + name + "\"" +
                          (rc != 0 ? std::string(" (") + std::strerror(rc) + ")" : ""));
  }
  Dropped d{pw.pw_uid, pw.pw_gid, false};
  if (geteuid() != 0) {
    if (getuid() == d.uid && geteuid() == d.uid) return d;
    return MakeUnexpected("--runas.user=" + name + " needs the exporter to start as root");
  }
  if (d.uid == 0) return MakeUnexpected(std::string("--runas.user must not be root"));
  if (size_t threads = ThreadCount(); threads != 1) {
    return MakeUnexpected("cannot drop privileges with " + std::to_string(threads) +
                          " threads running (capabilities are per thread)");
  }
  const uint64_t keep = keep_net_raw ? (uint64_t{1} << CAP_NET_RAW) : 0;
  // The bounding set limits what any later execve() could regain.
  for (int cap = 0; cap <= LastCap(); ++cap) {
    if ((keep >> cap) & 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return MakeUnexpected(Errno("prctl(PR_CAPBSET_DROP)"));
    }
  }
  // Keep the permitted set across setuid(); it is cut to `keep` below.
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    return MakeUnexpected(Errno("prctl(PR_SET_KEEPCAPS)"));
  if (setgroups(0, nullptr) != 0) return MakeUnexpected(Errno("setgroups"));
  if (setresgid(d.gid, d.gid, d.gid) != 0) return MakeUnexpected(Errno("setresgid"));
  if (setresuid(d.uid, d.uid, d.uid) != 0) return MakeUnexpected(Errno("setresuid"));
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  data[0].effective = data[0].permitted = static_cast<uint32_t>(keep);
  data[1].effective = data[1].permitted = static_cast<uint32_t>(keep >> 32);
  if (CapSet(&header, data) != 0) return MakeUnexpected(Errno("capset"));
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
    return MakeUnexpected(Errno("prctl(PR_SET_KEEPCAPS, 0)"));
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return MakeUnexpected(Errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)"));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return MakeUnexpected(Errno("prctl(PR_SET_NO_NEW_PRIVS)"));
  // Trust but verify: there must be no way back to root, and exactly `keep` left.
  if (setuid(0) == 0 || seteuid(0) == 0)
    return MakeUnexpected(std::string("could regain root after dropping it"));
  Expected<CapabilitySets, std::string> now = CurrentCapabilities();
  if (!now) return MakeUnexpected(now.error());
  if (now->effective != keep || now->permitted != keep || now->inheritable != 0) {
    return MakeUnexpected(std::string("capabilities not as expected after dropping privileges"));
  }
  d.changed = true;
  return d;
}

}  // namespace ping_exporter::privileges
