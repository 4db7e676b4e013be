// DropToUser changes the whole process for good, so each case runs it in a
// forked child and reports back through the exit status.
#include "privileges/privileges.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "common/fd.h"

namespace ping_exporter::privileges {
namespace {

// Runs `body` in a child; its return value is the child's exit status (0 = ok).
int InChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = body();
    } catch (...) {
      rc = 98;
    }
    _exit(rc);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string StatusField(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      return v.substr(v.find_first_not_of(" \t"));
    }
  }
  return "";
}

bool CanOpenRawSocket() {
  Fd fd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  return fd.valid();
}

TEST(PrivilegesTest, UnknownUserIsAnError) {
  auto r = DropToUser("no-such-user-pe-test", true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no such user"), std::string::npos) << r.error();
}

TEST(PrivilegesTest, RootAsTargetIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto r = DropToUser("root", true);
  ASSERT_FALSE(r);
  EXPECT_EQ(geteuid(), 0u);
}

TEST(PrivilegesTest, KeepsOnlyNetRaw) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  int rc = InChild([] {
    auto r = DropToUser("nobody", true);
    if (!r || !r->changed) return 1;
    if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534 || getegid() != 65534)
      return 2;
    if (getgroups(0, nullptr) != 0) return 3;
    auto caps = CurrentCapabilities();
    const uint64_t net_raw = uint64_t{1} << CAP_NET_RAW;
    if (!caps || caps->effective != net_raw || caps->permitted != net_raw ||
        caps->inheritable != 0) {
      return 4;
    }
    if (StatusField("CapEff") != "0000000000002000") return 5;
    if (StatusField("CapBnd") != "0000000000002000") return 6;
    if (StatusField("CapAmb") != "0000000000000000") return 7;
    if (StatusField("NoNewPrivs") != "1") return 8;
    if (!CanOpenRawSocket()) return 9;
    if (setuid(0) == 0) return 10;
    // Something only root could do: write into /proc/sys.
    std::ofstream out("/proc/sys/net/ipv4/ping_group_range");
    if (out.is_open()) return 11;
    // Threads started afterwards inherit the same single capability.
    int thread_rc = 0;
    std::thread([&] {
      auto t = CurrentCapabilities();
      thread_rc = (t && t->effective == net_raw && CanOpenRawSocket()) ? 0 : 12;
    }).join();
    return thread_rc;
  });
  EXPECT_EQ(rc, 0);
}

TEST(PrivilegesTest, DatagramModeKeepsNoCapability) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  int rc = InChild([] {
    auto r = DropToUser("nobody", false);
    if (!r) return 1;
    auto caps = CurrentCapabilities();
    if (!caps || caps->effective != 0 || caps->permitted != 0) return 2;
    if (CanOpenRawSocket()) return 3;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(PrivilegesTest, RefusesWhileOtherThreadsRun) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  int rc = InChild([] {
    int pipefd[2];
    if (pipe(pipefd) != 0) return 1;
    Fd reader(pipefd[0]), writer(pipefd[1]);
    // A thread blocked on the pipe until we are done.
    std::thread t([&] {
      char c;
      (void)read(reader.get(), &c, 1);
    });
    auto r = DropToUser("nobody", true);
    (void)write(writer.get(), "x", 1);
    t.join();
    if (r) return 2;
    if (r.error().find("threads") == std::string::npos) return 3;
    return geteuid() == 0 ? 0 : 4;  // nothing changed
  });
  EXPECT_EQ(rc, 0);
}

TEST(PrivilegesTest, NotRootButAlreadyThatUserIsANoOp) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become nobody first";
  int rc = InChild([] {
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
      return 1;
    }
    auto same = DropToUser("nobody", true);
    if (!same || same->changed) return 2;
    auto other = DropToUser("root", true);
    if (other) return 3;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(PrivilegesTest, ThreadCountSeesThreads) {
  size_t before = ThreadCount();
  EXPECT_GE(before, 1u);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  Fd reader(pipefd[0]), writer(pipefd[1]);
  std::thread t([&] {
    char c;
    (void)read(reader.get(), &c, 1);
  });
  EXPECT_EQ(ThreadCount(), before + 1);
  EXPECT_EQ(write(writer.get(), "x", 1), 1);
  t.join();
}

}  // namespace
}  // namespace ping_exporter::privileges
