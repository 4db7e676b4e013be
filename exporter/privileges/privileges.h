#pragma once
// Least privilege for a process started as root: become an ordinary user and
// keep only CAP_NET_RAW, which new raw ICMP sockets (reloads, /probe) need.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace ping_exporter::privileges {

struct Dropped {
  uid_t uid = 0;
  gid_t gid = 0;
  bool changed = false;  ///< false: already running as that user, nothing done
};

/// Switches the whole process to `user` (its uid and primary gid, no
/// supplementary groups). With `keep_net_raw` the permitted and effective
/// capability sets become exactly CAP_NET_RAW, else empty; the bounding set is
/// cut to the same, inheritable and ambient sets are cleared, and
/// no_new_privs is set. Capabilities are per thread in Linux, so this refuses
/// to run unless the process has a single thread: call it before starting any.
/// Not root: succeeds without change if already `user`, else an error. Every
/// failure is returned as a message; a half-done switch is reported, never
/// ignored (the caller must exit).
Expected<Dropped, std::string> DropToUser(std::string_view user, bool keep_net_raw);

/// The calling thread's capability sets as bit masks (bit n = capability n).
struct CapabilitySets {
  uint64_t effective = 0, permitted = 0, inheritable = 0;
};
Expected<CapabilitySets, std::string> CurrentCapabilities();

/// Number of threads of this process (from /proc/self/task).
size_t ThreadCount();

}  // namespace ping_exporter::privileges
