#pragma once
// Helpers for the HTTP tests: a tiny blocking HTTP/1.1 client over plain sockets,
// the shared temporary directory, a bounded subprocess runner and a gzip decoder.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "test_util/temp_dir.h"

extern char** environ;

namespace ping_exporter::http::testing {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

using ping_exporter::test_util::TempDir;

/// One parsed HTTP response; `status` is 0 when nothing parseable came back.
struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string raw;
  bool closed = false;  // the server closed the connection (EOF or reset)

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

inline Fd Connect(uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Fd();
  }
  return fd;
}

inline bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

/// Reads until EOF, reset or the deadline. Returns what arrived.
inline std::string ReadUntilClosed(int fd, SteadyClock::time_point deadline, bool* closed) {
  std::string data;
  char buf[65536];
  *closed = false;
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      *closed = true;
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

inline HttpReply ParseReply(std::string raw, bool closed) {
  HttpReply reply;
  reply.raw = std::move(raw);
  reply.closed = closed;
  size_t end = reply.raw.find("\r\n\r\n");
  if (reply.raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return reply;
  size_t line_end = reply.raw.find("\r\n");
  reply.status = std::atoi(reply.raw.substr(9, 3).c_str());
  size_t pos = line_end + 2;
  while (pos < end) {
    size_t next = reply.raw.find("\r\n", pos);
    std::string line = reply.raw.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      size_t v = line.find_first_not_of(' ', colon + 1);
      reply.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = next + 2;
  }
  reply.body = reply.raw.substr(end + 4);
  return reply;
}

/// Sends `request` verbatim and reads the reply until the server closes.
inline HttpReply SendRaw(uint16_t port, const std::string& request,
                         milliseconds timeout = milliseconds(5000)) {
  Fd fd = Connect(port);
  if (!fd.valid()) return HttpReply{};
  SendAll(fd.get(), request);
  bool closed = false;
  std::string raw = ReadUntilClosed(fd.get(), SteadyClock::now() + timeout, &closed);
  return ParseReply(std::move(raw), closed);
}

inline HttpReply Get(uint16_t port, const std::string& path,
                     const std::vector<std::string>& headers = {},
                     const std::string& method = "GET") {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& h : headers) request += h + "\r\n";
  request += "Connection: close\r\n\r\n";
  return SendRaw(port, request);
}

inline std::optional<std::string> Gunzip(const std::string& data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;
  }
  bool complete = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!complete) return std::nullopt;
  return out;
}

struct CommandResult {
  int exit_code = -1;  // -1: could not run or timed out
  std::string output;  // stdout and stderr together
};

inline bool HaveProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/local/bin/", "/usr/sbin/"}) {
    if (access((std::string(dir) + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

/// Runs argv[0] (searched in PATH) with a hard deadline; kills it when late.
inline CommandResult Run(const std::vector<std::string>& argv,
                         milliseconds timeout = milliseconds(8000)) {
  CommandResult result;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return result;
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.Reset();
  if (rc != 0) return result;
  bool closed = false;
  auto deadline = SteadyClock::now() + timeout;
  result.output = ReadUntilClosed(read_end.get(), deadline, &closed);
  int status = 0;
  if (!closed) kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  if (closed && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace ping_exporter::http::testing
