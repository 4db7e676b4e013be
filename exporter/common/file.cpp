#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "common/fd.h"

namespace ping_exporter {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

std::string TooLarge(size_t max_bytes) {
  std::string cap = max_bytes % kMiB == 0 ? std::to_string(max_bytes / kMiB) + " MiB"
                                          : std::to_string(max_bytes) + " bytes";
  return "file is larger than " + cap;
}

}  // namespace

Expected<std::string, std::string> ReadFileCapped(const std::string& path, size_t max_bytes,
                                                  FileFacts* facts) {
  auto fail = [](int err) -> Expected<std::string, std::string> {
    return MakeUnexpected(std::generic_category().message(err));
  };
  // O_NONBLOCK so a FIFO in place of the file cannot hang open(); it is refused below.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return fail(errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(errno);
  if (S_ISDIR(st.st_mode)) return fail(EISDIR);
  if (!S_ISREG(st.st_mode)) return MakeUnexpected(std::string("not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return MakeUnexpected(TooLarge(max_bytes));
  std::string text;
  text.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno);
    }
    if (n == 0) break;
    // st_size may be stale (a growing file) or 0 (procfs): the cap holds while reading too.
    if (static_cast<size_t>(n) > max_bytes - text.size()) {
      return MakeUnexpected(TooLarge(max_bytes));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  if (facts != nullptr) facts->world_readable = (st.st_mode & S_IROTH) != 0;
  return text;
}

}  // namespace ping_exporter
