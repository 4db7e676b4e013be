// The `probe` command over loopback with raw sockets.
#include "ondemand/probe_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

namespace ping_exporter::ondemand {
namespace {

using std::chrono::milliseconds;

TEST(ProbeCommandTest, ProbeOncePrintsStatusPerHost) {
  if (geteuid() != 0) GTEST_SKIP() << "raw sockets need root or CAP_NET_RAW";
  std::ostringstream out, err, logs;
  Logger log(logs, LogLevel::kInfo, LogFormat::kLogfmt);
  config::ProbeOptions o;
  o.interval = milliseconds(200);
  o.count = 2;
  o.spacing = milliseconds(10);
  o.timeout = milliseconds(100);
  int rc = ProbeOnce({"127.0.0.1", "::1", "name.invalid"}, o, config::Family::kAny,
                     icmp::SocketKind::kRaw, out, err, log);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.str(),
            "Status from 127.0.0.1 is Alive\nStatus from ::1 is Alive\n"
            "Status from name.invalid is No response\n");
  EXPECT_NE(err.str().find("name.invalid"), std::string::npos);
}

}  // namespace
}  // namespace ping_exporter::ondemand
