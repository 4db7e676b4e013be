#include "app/access.h"

#include <unistd.h>

#include "privileges/privileges.h"

namespace ping_exporter::app {

Expected<icmp::SocketKind, std::string> ChooseSocketKind(const std::string& flag, Logger& log) {
  using icmp::SocketKind;
  if (flag == "raw") return SocketKind::kRaw;
  if (flag == "dgram") return SocketKind::kDatagram;
  if (flag != "auto") return MakeUnexpected("--icmp.socket must be auto, raw or dgram");
  if (icmp::DatagramSocketsAllowed(IpFamily::kV4)) {
    log.Info("using unprivileged datagram ICMP sockets",
             {{"reason", "net.ipv4.ping_group_range allows it"}});
    return SocketKind::kDatagram;
  }
  log.Info("using raw ICMP sockets",
           {{"reason", "datagram ICMP not allowed for this group (net.ipv4.ping_group_range)"}});
  return SocketKind::kRaw;
}

Expected<bool, std::string> DropPrivileges(const std::string& user, const std::string& icmp_socket,
                                           const std::string& config_file, Logger& log) {
  // Raw sockets keep working through CAP_NET_RAW (reloads and /probe open new ones).
  const bool keep_net_raw = icmp_socket != "dgram";
  auto dropped = privileges::DropToUser(user, keep_net_raw);
  if (!dropped) return MakeUnexpected(dropped.error());
  log.Info(dropped->changed ? "dropped privileges" : "already running as the requested user",
           {{"user", user},
            {"uid", std::to_string(dropped->uid)},
            {"gid", std::to_string(dropped->gid)},
            {"capabilities", keep_net_raw ? "cap_net_raw" : "none"}});
  if (!config_file.empty() && access(config_file.c_str(), R_OK) != 0) {
    log.Warn("the config file is not readable by this user: reloads will fail",
             {{"file", config_file}, {"user", user}});
  }
  return true;
}

}  // namespace ping_exporter::app
