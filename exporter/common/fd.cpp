#include "common/fd.h"

#include <unistd.h>

namespace ping_exporter {

void Fd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace ping_exporter
