#pragma once
// How the process gets at ICMP at start-up: which socket kind, and dropping
// root while keeping what those sockets need. Both log what they decide.

#include <string>

#include "common/expected.h"
#include "common/log.h"
#include "icmp/socket.h"

namespace ping_exporter::app {

/// "raw", "dgram", or "auto": datagram ICMP where net.ipv4.ping_group_range
/// allows it, else raw (the choice and its reason are logged). Anything else is
/// an error message. Thread-safe.
Expected<icmp::SocketKind, std::string> ChooseSocketKind(const std::string& flag, Logger& log);

/// Switches to `user`, keeping CAP_NET_RAW unless `icmp_socket` is "dgram", and
/// logs the result; warns when `config_file` is not readable by that user (reloads
/// would fail). Must run before any thread starts (see privileges::DropToUser).
/// Returns why it failed; the caller must then exit.
Expected<bool, std::string> DropPrivileges(const std::string& user, const std::string& icmp_socket,
                                           const std::string& config_file, Logger& log);

}  // namespace ping_exporter::app
