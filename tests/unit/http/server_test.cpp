#include "http/server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"

namespace ping_exporter::http {
namespace {

using testing::Connect;
using testing::Get;
using testing::HttpReply;
using testing::SendAll;
using testing::SendRaw;
using testing::SteadyClock;
using testing::TempDir;

std::string MetricsText() {
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += "ping_up{target=\"host" + std::to_string(i) + "\"} 1\n";
  }
  return text;
}

std::vector<Route> TestRoutes() {
  std::vector<Route> routes;
  routes.push_back({"/metrics", [](const Request&) {
                      Response r;
                      r.content_type = "text/plain; version=0.0.4";
                      r.body = MetricsText();
                      r.compressible = true;
                      return r;
                    }});
  routes.push_back({"/plain", [](const Request&) {
                      Response r;
                      r.body = MetricsText();
                      r.headers.emplace_back("X-Test", "yes");
                      return r;
                    }});
  routes.push_back({"/echo",
                    [](const Request& req) {
                      Response r;
                      r.body = req.method + " " + req.query + " " + std::to_string(req.body.size());
                      return r;
                    },
                    {"GET", "POST"}});
  routes.push_back(
      {"/throw", [](const Request&) -> Response { throw std::runtime_error("handler exploded"); }});
  routes.push_back({"/big", [](const Request&) {
                      Response r;
                      r.body.assign(size_t{8} << 20, 'x');
                      return r;
                    }});
  return routes;
}

class HttpServerTest : public ::testing::Test {
 protected:
  Expected<std::unique_ptr<Server>, std::string> Start(ServerOptions options) {
    return Server::Start(options, TestRoutes(), logger_);
  }
  static ServerOptions Local() {
    ServerOptions o;
    o.listen_address = "127.0.0.1:0";
    o.connections = 4;
    o.request_timeout = std::chrono::seconds(3);
    return o;
  }

  // Routes that count their calls, so a test sees whether the server or the handler answered.
  Expected<std::unique_ptr<Server>, std::string> StartCounting() {
    std::vector<Route> routes;
    routes.push_back({"/page", [this](const Request&) {
                        ++page_calls_;
                        Response r;
                        r.body = "page\n";
                        return r;
                      }});
    routes.push_back({"/reload",
                      [this](const Request& req) {
                        ++reload_calls_;
                        Response r;
                        r.body = req.method + "\n";
                        return r;
                      },
                      {"POST", "PUT"}});
    return Server::Start(Local(), std::move(routes), logger_);
  }
  // With an explicit empty body, so CivetWeb never waits for one.
  static HttpReply Call(uint16_t port, const std::string& path, const std::string& method) {
    return Get(port, path, {"Content-Length: 0"}, method);
  }
  // /block's first call waits until release_ is set; /health does not wait for a turn.
  Expected<std::unique_ptr<Server>, std::string> StartGated(uint32_t max_requests) {
    std::vector<Route> routes;
    routes.push_back({"/block", [this](const Request&) {
                        if (++blocked_calls_ == 1) {
                          entered_.set_value();
                          released_.wait();
                        }
                        return Response{};
                      }});
    routes.push_back({"/health", [](const Request&) { return Response{}; }, {"GET"}, false});
    ServerOptions options = Local();
    options.max_requests = max_requests;
    return Server::Start(options, std::move(routes), logger_);
  }
  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::atomic<int> blocked_calls_{0};
  std::atomic<int> page_calls_{0};
  std::atomic<int> reload_calls_{0};
  std::ostringstream log_;
  Logger logger_{log_, LogLevel::kDebug, LogFormat::kLogfmt};
};

TEST_F(HttpServerTest, ServesRouteOnPickedPort) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  EXPECT_FALSE((*server)->tls());
  EXPECT_EQ((*server)->address(), "127.0.0.1:" + std::to_string(port));

  HttpReply reply = Get(port, "/metrics");
  EXPECT_EQ(reply.status, 200) << reply.raw.substr(0, 300);
  EXPECT_EQ(reply.body, MetricsText());
  EXPECT_EQ(reply.Header("content-type"), "text/plain; version=0.0.4");
  EXPECT_EQ(reply.Header("content-length"), std::to_string(MetricsText().size()));
  EXPECT_EQ(reply.Header("content-encoding"), "");
  EXPECT_EQ(reply.Header("vary"), "Accept-Encoding");
  // One Date header, ours, in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT").
  std::string date = reply.Header("date");
  EXPECT_EQ(date.size(), 29u) << date;
  EXPECT_EQ(date.substr(25), " GMT") << date;
  size_t first = reply.raw.find("\r\nDate: ");
  EXPECT_NE(first, std::string::npos);
  EXPECT_EQ(reply.raw.find("\r\nDate: ", first + 1), std::string::npos);

  HttpReply plain = Get(port, "/plain");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.Header("x-test"), "yes");
  EXPECT_EQ(plain.Header("vary"), "");
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  EXPECT_EQ(Get((*server)->port(), "/nope").status, 404);
  EXPECT_EQ(Get((*server)->port(), "/metrics/extra").status, 404);
  EXPECT_EQ(Get((*server)->port(), "/").status, 404);
}

TEST_F(HttpServerTest, PassesMethodQueryAndBody) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  HttpReply reply = SendRaw((*server)->port(),
                            "POST /echo?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                            "Connection: close\r\n\r\nhello");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "POST a=1&b=2 5");
}

TEST_F(HttpServerTest, HeadSendsHeadersWithoutBody) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  HttpReply reply = Get((*server)->port(), "/metrics", {}, "HEAD");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-length"), std::to_string(MetricsText().size()));
  EXPECT_TRUE(reply.body.empty()) << reply.body.size();
  // The handler saw GET: /echo's body would be "GET  0", 6 bytes.
  HttpReply echo = Get((*server)->port(), "/echo", {}, "HEAD");
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.Header("content-length"), "6");
  EXPECT_TRUE(echo.body.empty());
}

TEST_F(HttpServerTest, UnlistedMethodIs405WithAllowAndSkipsTheHandler) {
  auto server = StartCounting();
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    HttpReply reply = Call(port, "/page", method);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.Header("allow"), "GET, HEAD") << method;
    EXPECT_EQ(reply.body, "method not allowed\n") << method;
  }
  EXPECT_EQ(page_calls_.load(), 0);
  for (const char* method : {"GET", "HEAD", "DELETE"}) {
    HttpReply reply = Call(port, "/reload", method);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.Header("allow"), "POST, PUT") << method;
  }
  EXPECT_EQ(reload_calls_.load(), 0);
  // An unknown path stays 404 whatever the method.
  EXPECT_EQ(Call(port, "/nope", "POST").status, 404);
}

TEST_F(HttpServerTest, ListedMethodsReachTheHandler) {
  auto server = StartCounting();
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  HttpReply post = Call(port, "/reload", "POST");
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.body, "POST\n");
  HttpReply put = Call(port, "/reload", "PUT");
  EXPECT_EQ(put.status, 200);
  EXPECT_EQ(put.body, "PUT\n");
  EXPECT_EQ(reload_calls_.load(), 2);
  EXPECT_EQ(Get(port, "/page").body, "page\n");
  EXPECT_EQ(page_calls_.load(), 1);
}

TEST_F(HttpServerTest, CrossOriginRequestsAreRefused) {
  auto server = StartCounting();
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  // Get() sends "Host: 127.0.0.1"; this server speaks plain HTTP.
  for (const char* origin : {"http://evil.example", "https://127.0.0.1", "http://127.0.0.1:8080",
                             "null", "http://", "127.0.0.1", "http://127.0.0.1/"}) {
    HttpReply reply =
        Get(port, "/reload", {"Origin: " + std::string(origin), "Content-Length: 0"}, "POST");
    EXPECT_EQ(reply.status, 403) << origin;
    EXPECT_EQ(reply.body, "cross-origin request refused\n") << origin;
    EXPECT_EQ(Get(port, "/page", {"Origin: " + std::string(origin)}).status, 403) << origin;
  }
  EXPECT_EQ(reload_calls_.load(), 0);
  EXPECT_EQ(page_calls_.load(), 0);
  // Its own origin (default port or not, any case) and no Origin at all are served.
  for (const char* origin : {"http://127.0.0.1", "HTTP://127.0.0.1:80"}) {
    EXPECT_EQ(Get(port, "/reload", {"Origin: " + std::string(origin), "Content-Length: 0"}, "POST")
                  .status,
              200)
        << origin;
  }
  EXPECT_EQ(Call(port, "/reload", "POST").status, 200);
  EXPECT_EQ(reload_calls_.load(), 3);
  // Without a Host header nothing can match.
  HttpReply hostless = SendRaw(port, "GET /page HTTP/1.0\r\nOrigin: http://127.0.0.1\r\n\r\n");
  EXPECT_EQ(hostless.status, 403);
}

TEST_F(HttpServerTest, RequestsBeyondMaxRequestsWaitTheirTurn) {
  auto server = StartGated(1);
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  auto first = std::async(std::launch::async, [port] { return Get(port, "/block"); });
  entered_.get_future().wait();  // the one turn is taken now
  auto second = std::async(std::launch::async, [port] { return Get(port, "/block"); });
  EXPECT_EQ(Get(port, "/health").status, 200);  // not limited: answered meanwhile
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  EXPECT_EQ(blocked_calls_.load(), 1);
  release_.set_value();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(blocked_calls_.load(), 2);
}

TEST_F(HttpServerTest, StoppingAnswersWaitingRequests503) {
  auto server = StartGated(1);
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  auto first = std::async(std::launch::async, [port] { return Get(port, "/block"); });
  entered_.get_future().wait();
  auto second = std::async(std::launch::async, [port] { return Get(port, "/block"); });
  // Wait until the second request is queued at the gate (its connection is being served).
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  // The server stops while /block holds the turn: the waiting request is let go at once
  // (CivetWeb sends nothing more once stopping, so the client just sees the connection
  // close), and its handler never runs.
  auto stopped = std::async(std::launch::async, [&server] { server->reset(); });
  ASSERT_EQ(second.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  EXPECT_NE(second.get().status, 200);
  release_.set_value();
  stopped.get();
  first.get();
  EXPECT_EQ(blocked_calls_.load(), 1);
}

TEST_F(HttpServerTest, HeadRunsGetWithoutBody) {
  auto server = StartCounting();
  ASSERT_TRUE(server.has_value()) << server.error();
  HttpReply head = Call((*server)->port(), "/page", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "5");
  EXPECT_TRUE(head.body.empty()) << head.body;
  EXPECT_EQ(page_calls_.load(), 1);
}

TEST_F(HttpServerTest, RoutesWithBadMethodListsAreRefused) {
  for (std::vector<std::string> methods : std::vector<std::vector<std::string>>{
           {}, {"HEAD"}, {"GET", "HEAD"}, {"get"}, {""}, {"GET", "PO ST"}}) {
    std::vector<Route> routes;
    routes.push_back({"/a", [](const Request&) { return Response{}; }, methods});
    auto server = Server::Start(Local(), std::move(routes), logger_);
    ASSERT_FALSE(server.has_value()) << ::testing::PrintToString(methods);
    EXPECT_NE(server.error().find("invalid route \"/a\""), std::string::npos) << server.error();
  }
}

TEST_F(HttpServerTest, GzipWhenAcceptedAndDecodes) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  HttpReply reply = Get((*server)->port(), "/metrics", {"Accept-Encoding: deflate, gzip"});
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-encoding"), "gzip");
  EXPECT_EQ(reply.Header("vary"), "Accept-Encoding");
  EXPECT_EQ(reply.Header("content-length"), std::to_string(reply.body.size()));
  EXPECT_LT(reply.body.size(), MetricsText().size() / 4);
  std::optional<std::string> decoded = testing::Gunzip(reply.body);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, MetricsText());
}

TEST_F(HttpServerTest, NoGzipWhenRefusedOrNotCompressible) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  HttpReply refused = Get(port, "/metrics", {"Accept-Encoding: gzip;q=0, *;q=1"});
  EXPECT_EQ(refused.Header("content-encoding"), "");
  EXPECT_EQ(refused.body, MetricsText());
  HttpReply none = Get(port, "/metrics");
  EXPECT_EQ(none.Header("content-encoding"), "");
  HttpReply plain = Get(port, "/plain", {"Accept-Encoding: gzip"});
  EXPECT_EQ(plain.Header("content-encoding"), "");
  EXPECT_EQ(plain.body, MetricsText());
}

TEST_F(HttpServerTest, PortInUseIsAnError) {
  auto first = Start(Local());
  ASSERT_TRUE(first.has_value()) << first.error();
  ServerOptions options = Local();
  options.listen_address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = Start(options);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().find(options.listen_address), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("in use"), std::string::npos) << second.error();
  // The first server is unharmed.
  EXPECT_EQ(Get((*first)->port(), "/metrics").status, 200);
}

TEST_F(HttpServerTest, MalformedListenAddressesAreErrors) {
  for (const char* address :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:http", "::1:80", "[::1",
        "[::1]80", "[not-v6]:80", "300.1.1.1:80", "no-such-host.invalid:80", "127.0.0.1:-1"}) {
    ServerOptions options = Local();
    options.listen_address = address;
    auto server = Start(options);
    ASSERT_FALSE(server.has_value()) << "accepted " << address;
    EXPECT_NE(server.error().find("listen address"), std::string::npos) << server.error();
  }
}

TEST_F(HttpServerTest, IPv6AddressServesOrSaysWhyNot) {
  ServerOptions options = Local();
  options.listen_address = "[::1]:0";
  auto server = Start(options);
  if (!server.has_value()) {
    // Debian's CivetWeb 1.15 is built without IPv6; the error must say so.
    EXPECT_NE(server.error().find("IPv6"), std::string::npos) << server.error();
    return;
  }
  EXPECT_NE((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), "[::1]:" + std::to_string((*server)->port()));
}

TEST_F(HttpServerTest, HostNameAndAllInterfaces) {
  ServerOptions options = Local();
  options.listen_address = "localhost:0";
  auto named = Start(options);
  ASSERT_TRUE(named.has_value()) << named.error();
  EXPECT_EQ((*named)->address(), "127.0.0.1:" + std::to_string((*named)->port()));
  EXPECT_EQ(Get((*named)->port(), "/metrics").status, 200);

  options.listen_address = ":0";
  auto any = Start(options);
  ASSERT_TRUE(any.has_value()) << any.error();
  EXPECT_EQ(Get((*any)->port(), "/metrics").status, 200);  // reachable on loopback
}

TEST_F(HttpServerTest, OversizedHeaderIsRejected) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  std::string huge(32 * 1024, 'a');
  HttpReply reply = Get((*server)->port(), "/metrics", {"X-Huge: " + huge});
  EXPECT_GE(reply.status, 400) << reply.raw.substr(0, 200);
  EXPECT_LT(reply.status, 500);
  EXPECT_EQ(reply.body.find("ping_up"), std::string::npos);
  // A header just under the limit still works.
  EXPECT_EQ(Get((*server)->port(), "/metrics", {"X-Big: " + std::string(8 * 1024, 'b')}).status,
            200);
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  ServerOptions options = Local();
  options.max_body_bytes = 1 << 20;
  auto server = Start(options);
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();

  // Declared too large: refused before any of it is read.
  HttpReply declared = SendRaw(port,
                               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n"
                               "Connection: close\r\n\r\n");
  EXPECT_EQ(declared.status, 413);

  // Chunked, no length given: cut off once it passes the limit.
  Fd fd = Connect(port);
  ASSERT_TRUE(fd.valid());
  std::string chunk(64 * 1024, 'c');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 20; ++i) request += size_line + chunk + "\r\n";  // 1.25 MiB
  request += "0\r\n\r\n";
  SendAll(fd.get(), request);
  bool closed = false;
  HttpReply chunked = testing::ParseReply(
      testing::ReadUntilClosed(fd.get(), SteadyClock::now() + std::chrono::seconds(5), &closed),
      closed);
  EXPECT_EQ(chunked.status, 413) << chunked.raw.substr(0, 200);

  // Under the limit it reaches the handler.
  std::string body(512 * 1024, 'b');
  HttpReply ok = SendRaw(
      port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\nConnection: close\r\n\r\n" + body);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "POST  " + std::to_string(body.size()));
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndLogged) {
  {
    auto server = Start(Local());
    ASSERT_TRUE(server.has_value()) << server.error();
    HttpReply reply = Get((*server)->port(), "/throw");
    EXPECT_EQ(reply.status, 500);
    EXPECT_EQ(reply.body.find("exploded"), std::string::npos);  // details stay in the log
    EXPECT_EQ(Get((*server)->port(), "/metrics").status, 200);
  }
  // The server (and its threads) are gone, so the log is stable now.
  EXPECT_NE(log_.str().find("handler exploded"), std::string::npos) << log_.str();
  EXPECT_NE(log_.str().find("path=/throw"), std::string::npos) << log_.str();
}

TEST_F(HttpServerTest, SlowClientIsDroppedAfterRequestTimeout) {
  ServerOptions options = Local();
  options.connections = 1;
  options.request_timeout = std::chrono::milliseconds(300);
  auto server = Start(options);
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();

  auto start = SteadyClock::now();
  Fd slow = Connect(port);
  ASSERT_TRUE(slow.valid());
  ASSERT_TRUE(SendAll(slow.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n"));  // never finished

  // The only worker thread is stuck with the slow client, so a complete request
  // waits until the timeout frees it: this shows both the bound and the timeout.
  HttpReply queued = Get(port, "/metrics");
  auto answered = SteadyClock::now() - start;
  EXPECT_EQ(queued.status, 200);
  EXPECT_GE(answered, std::chrono::milliseconds(250));
  EXPECT_LT(answered, std::chrono::seconds(4));

  bool closed = false;
  std::string got = testing::ReadUntilClosed(slow.get(), start + std::chrono::seconds(5), &closed);
  EXPECT_TRUE(closed) << "slow client still connected after 5 s";
  EXPECT_EQ(got.find("ping_up"), std::string::npos);
}

TEST_F(HttpServerTest, ClientHangingUpMidResponseDoesNotHurt) {
  auto server = Start(Local());
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();
  for (int i = 0; i < 5; ++i) {
    Fd fd = Connect(port);
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(SendAll(fd.get(), "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
    char first[16];
    ASSERT_GT(read(fd.get(), first, sizeof first), 0);
    linger hard{1, 0};  // close with RST while the server is still writing
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  // Still alive (a SIGPIPE would have killed this test binary) and serving.
  EXPECT_EQ(Get(port, "/metrics").status, 200);
}

TEST_F(HttpServerTest, InvalidOptionsAreErrors) {
  ServerOptions options = Local();
  options.connections = 0;
  EXPECT_FALSE(Start(options).has_value());
  options = Local();
  options.max_requests = 0;
  EXPECT_FALSE(Start(options).has_value());
  options = Local();
  options.request_timeout = std::chrono::nanoseconds(0);
  EXPECT_FALSE(Start(options).has_value());

  std::vector<Route> dup;
  dup.push_back({"/a", [](const Request&) { return Response{}; }});
  dup.push_back({"/a", [](const Request&) { return Response{}; }});
  auto server = Server::Start(Local(), std::move(dup), logger_);
  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().find("duplicate route"), std::string::npos);
}

TEST_F(HttpServerTest, MissingWebConfigIsAnError) {
  ServerOptions options = Local();
  options.web_config_file = "/nonexistent/web.yml";
  auto server = Start(options);
  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().find("/nonexistent/web.yml"), std::string::npos) << server.error();
}

std::string Htpasswd(const std::string& user, const std::string& password) {
  testing::CommandResult r = testing::Run({"htpasswd", "-nbB", user, password});
  if (r.exit_code != 0) return "";
  // "user:$2y$05$...\n\n"
  size_t colon = r.output.find(':');
  size_t end = r.output.find('\n');
  if (colon == std::string::npos || end == std::string::npos) return "";
  return r.output.substr(colon + 1, end - colon - 1);
}

std::string BasicHeader(const std::string& credentials) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < credentials.size(); i += 3) {
    uint32_t n = (uint8_t(credentials[i]) << 16) | (uint8_t(credentials[i + 1]) << 8) |
                 uint8_t(credentials[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == credentials.size()) {
    uint32_t n = uint8_t(credentials[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == credentials.size()) {
    uint32_t n = (uint8_t(credentials[i]) << 16) | (uint8_t(credentials[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return "Authorization: Basic " + out;
}

TEST_F(HttpServerTest, BasicAuthWithHtpasswdHash) {
  if (!testing::HaveProgram("htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) missing";
  std::string hash = Htpasswd("prometheus", "s3cret:with colon");
  ASSERT_EQ(hash.rfind("$2y$", 0), 0u) << hash;
  TempDir dir;
  std::string config = dir.Write("web.yml", "basic_auth_users:\n  prometheus: " + hash +
                                                "\nhttp_server_config:\n  headers:\n"
                                                "    X-Frame-Options: deny\n");
  ServerOptions options = Local();
  options.web_config_file = config;
  auto server = Start(options);
  ASSERT_TRUE(server.has_value()) << server.error();
  uint16_t port = (*server)->port();

  HttpReply none = Get(port, "/metrics");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("www-authenticate"), "Basic realm=\"ping_exporter\"");
  EXPECT_EQ(none.body.find("ping_up"), std::string::npos);
  EXPECT_EQ(Get(port, "/metrics", {BasicHeader("prometheus:wrong")}).status, 401);
  EXPECT_EQ(Get(port, "/metrics", {BasicHeader("someone:s3cret:with colon")}).status, 401);
  EXPECT_EQ(Get(port, "/metrics", {"Authorization: Basic !!!notbase64"}).status, 401);
  EXPECT_EQ(Get(port, "/metrics", {"Authorization: Bearer abc"}).status, 401);
  // Unknown paths need credentials too.
  EXPECT_EQ(Get(port, "/nope").status, 401);

  HttpReply ok = Get(port, "/metrics", {BasicHeader("prometheus:s3cret:with colon")});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, MetricsText());
  EXPECT_EQ(ok.Header("x-frame-options"), "deny");
  // Again: served from the cache, same answer.
  EXPECT_EQ(Get(port, "/metrics", {BasicHeader("prometheus:s3cret:with colon")}).status, 200);
}

}  // namespace
}  // namespace ping_exporter::http
