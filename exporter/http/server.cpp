#include "http/server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/fd.h"
#include "http/basic_auth.h"
#include "http/civetweb_tls_compat.h"
#include "http/gzip.h"
#include "http/tls_context.h"
#include "http/web_config.h"

namespace ping_exporter::http {
namespace {

constexpr char kRealmHeader[] = "Basic realm=\"ping_exporter\"";
// Ceiling on CivetWeb's worker threads (one per connection served at once).
constexpr uint32_t kMaxConnections = 4096;
// Ceiling on the request threads.
constexpr uint32_t kMaxRequests = 1024;
// Fastest zlib level: /metrics is big and scraped often, CPU matters more than bytes.
constexpr int kGzipLevel = 1;
constexpr size_t kReadChunk = 16 * 1024;

struct CivetInit {
  unsigned features = 0;
  detail::CivetTlsPatch patch = detail::CivetTlsPatch::kNotNeeded;
};

// CivetWeb wants mg_init_library once before the first context, and its first call
// is not thread-safe; a function-local static makes it happen exactly once. The
// OpenSSL 3 fix-up must come first (see civetweb_tls_compat.h). The library stays
// initialised for the life of the process on purpose.
const CivetInit& InitCivetWeb() {
  static const CivetInit init = [] {
    CivetInit i;
    i.patch = detail::PatchCivetWebForOpenSsl3();
    i.features = mg_init_library(MG_FEATURES_TLS);
    return i;
  }();
  return init;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// What CivetWeb's listening_ports wants, and how to print the address afterwards.
struct ListenSpec {
  std::string civet;  ///< e.g. "127.0.0.1:9823", "9823", "[::1]:9823"
  std::string host;   ///< for address(): "127.0.0.1", "0.0.0.0", "[::1]"
};

Expected<ListenSpec, std::string> ParseListenAddress(const std::string& address,
                                                     bool ipv6_supported) {
  auto bad = [&](const std::string& why) {
    return MakeUnexpected("invalid listen address \"" + address + "\": " + why);
  };
  std::string host;
  std::string port;
  bool bracketed = false;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string::npos) return bad("missing ']' after IPv6 address");
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("want [IPv6]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    bracketed = true;
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) return bad("missing port, want host:port or :port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return bad("IPv6 addresses need brackets: [addr]:port");
  }
  if (!IsDigits(port) || port.size() > 5 || std::stoul(port) > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  port = std::to_string(std::stoul(port));  // no leading zeros: CivetWeb reads octal

  if (bracketed) {
    in6_addr addr6{};
    if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) return bad("not an IPv6 address");
    if (!ipv6_supported) {
      return bad(
          "IPv6 is not supported: this CivetWeb build lacks IPv6 (listen on an IPv4 "
          "address or :port instead)");
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    inet_ntop(AF_INET6, &addr6, text.data(), text.size());
    return ListenSpec{"[" + std::string(text.data()) + "]:" + port,
                      "[" + std::string(text.data()) + "]"};
  }
  if (host.empty()) {
    // All interfaces: dual-stack when CivetWeb has IPv6, else IPv4 only.
    if (ipv6_supported) return ListenSpec{"+" + port, "[::]"};
    return ListenSpec{port, "0.0.0.0"};
  }
  in_addr addr4{};
  if (inet_pton(AF_INET, host.c_str(), &addr4) != 1) {
    // A host name: resolve it here so the error says what went wrong.
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
    if (rc != 0 || result == nullptr) {
      return bad("cannot resolve \"" + host + "\" to an IPv4 address: " + gai_strerror(rc));
    }
    addr4 = reinterpret_cast<const sockaddr_in*>(result->ai_addr)->sin_addr;
    freeaddrinfo(result);
  }
  std::array<char, INET_ADDRSTRLEN> text{};
  inet_ntop(AF_INET, &addr4, text.data(), text.size());
  return ListenSpec{std::string(text.data()) + ":" + port, text.data()};
}

// Connects to our own listening socket and hangs up, to wake CivetWeb's accept loop.
void PokeListener(const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (host.front() == '[') {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    std::string literal = host.substr(1, host.size() - 2);
    if (literal == "::") literal = "::1";
    if (inet_pton(AF_INET6, literal.c_str(), &a6->sin6_addr) != 1) return;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    std::string literal = host == "0.0.0.0" ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, literal.c_str(), &a4->sin_addr) != 1) return;
    len = sizeof(sockaddr_in);
  }
  Fd fd(socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return;
  timeval limit{0, 100 * 1000};  // connect() honours the send timeout on Linux
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len);
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Headers the server computes itself; a handler's copy would contradict them.
bool IsReservedHeader(std::string_view name) {
  for (std::string_view reserved :
       {"Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection", "Vary", "Date"}) {
    if (EqualsIgnoreCase(name, reserved)) return true;
  }
  return false;
}

// RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT". Sent by us because
// CivetWeb 1.15 formats its own Date with gmtime(), which is not thread-safe.
std::string HttpDate(std::time_t now) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text.data();
}

// Whether `origin` (an Origin header) names this server: same scheme, and the same
// authority as the Host header the client sent, default ports aside. Browsers send
// Origin with every cross-site POST and with cross-origin fetches, so this keeps a
// page from elsewhere from driving the exporter through a visitor's browser.
bool SameOrigin(std::string_view origin, std::string_view host, bool tls) {
  const std::string_view scheme = tls ? "https://" : "http://";
  const std::string_view default_port = tls ? ":443" : ":80";
  auto without_default_port = [&](std::string_view authority) {
    if (authority.size() > default_port.size() &&
        authority.substr(authority.size() - default_port.size()) == default_port) {
      authority.remove_suffix(default_port.size());
    }
    return authority;
  };
  if (host.empty() || origin.size() <= scheme.size() ||
      !EqualsIgnoreCase(origin.substr(0, scheme.size()), scheme)) {
    return false;
  }
  return EqualsIgnoreCase(without_default_port(origin.substr(scheme.size())),
                          without_default_port(host));
}

// HTTP threads run at a lower priority than the probers (nice + kHttpNice):
// writing a 200 MB page for 50 000 targets may take a core for a second, and
// a scrape that finishes later matters less than an echo request sent late.
void LowerThreadPriority() {
  constexpr int kHttpNice = 5;
  id_t self = static_cast<id_t>(gettid());
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, self);
  if (errno == 0) setpriority(PRIO_PROCESS, self, std::min(nice + kHttpNice, 19));
  sched_param batch{};
  sched_setscheduler(0, SCHED_BATCH, &batch);  // never preempt a prober on wake-up
}

/// The threads ("http-request", lowered priority) that run the handlers of limited
/// routes and send their answers, taking requests in order of arrival. CivetWeb's
/// connection threads, hundreds of them, hand a request over and wait: so the stack
/// and the malloc caches that making a page touches belong to these few threads
/// (measured: rotating scrapes over 512 connection threads that made the pages
/// themselves grew RSS by 28 MiB). Thread-safe.
class RequestWorkers {
 public:
  /// Starts `size` threads and waits until each has lowered its priority. Throws
  /// std::system_error when a thread cannot be started.
  explicit RequestWorkers(uint32_t size) {
    try {
      for (uint32_t i = 0; i < size; ++i) threads_.emplace_back([this] { Loop(); });
    } catch (...) {
      Close();
      for (std::thread& t : threads_) t.join();
      throw;
    }
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return ready_ == threads_.size(); });
  }
  /// Close()s, lets the jobs already started finish and joins the threads.
  ~RequestWorkers() {
    Close();
    for (std::thread& t : threads_) t.join();
  }
  RequestWorkers(const RequestWorkers&) = delete;
  RequestWorkers& operator=(const RequestWorkers&) = delete;

  /// Runs `work` on one of the threads and waits for it; rethrows what it threw.
  /// Returns false, without running it, once Close() came first.
  bool Run(const std::function<void()>& work) {
    Job job;
    job.work = &work;
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return false;
    queue_.push_back(&job);
    wake_.notify_one();
    done_.wait(lock, [&] { return job.done || job.dropped; });
    if (job.error) std::rethrow_exception(job.error);
    return job.done;
  }
  /// Drops the jobs not started yet (their Run() returns false), and every later one.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (Job* job : queue_) job->dropped = true;
    queue_.clear();
    wake_.notify_all();
    done_.notify_all();
  }

 private:
  struct Job {
    const std::function<void()>* work = nullptr;
    bool done = false;     // guarded by mu_
    bool dropped = false;  // guarded by mu_
    std::exception_ptr error;
  };

  void Loop() {
    LowerThreadPriority();
    pthread_setname_np(pthread_self(), "http-request");
    std::unique_lock<std::mutex> lock(mu_);
    ++ready_;
    done_.notify_all();
    for (;;) {
      wake_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closed
      Job* job = queue_.front();
      queue_.pop_front();
      lock.unlock();
      std::exception_ptr error;
      try {
        (*job->work)();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      job->error = error;
      job->done = true;
      done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;  // for the threads: a job, or Close()
  std::condition_variable done_;  // for the callers (and the constructor)
  std::deque<Job*> queue_;        // guarded by mu_
  bool closed_ = false;           // guarded by mu_
  size_t ready_ = 0;              // guarded by mu_: threads that lowered their priority
  std::vector<std::thread> threads_;
};

Response TextResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Route methods are upper-case tokens; HEAD comes with GET and is not listed.
bool ValidMethods(const std::vector<std::string>& methods) {
  return !methods.empty() && std::all_of(methods.begin(), methods.end(), [](const std::string& m) {
    return !m.empty() && m != "HEAD" &&
           std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  });
}

// The Allow header of a 405: the route's methods in its order, HEAD after GET.
std::string AllowHeader(const std::vector<std::string>& methods) {
  std::string allow;
  for (const std::string& m : methods) {
    allow += (allow.empty() ? "" : ", ") + m;
    if (m == "GET") allow += ", HEAD";
  }
  return allow;
}

}  // namespace

struct Server::Impl {
  explicit Impl(Logger& l) : logger(l) {}
  ~Impl() {
    if (ctx == nullptr) return;
    // A request thread waiting for a bcrypt check (seconds at a high cost) answers 401 now
    // instead of holding up mg_stop; the check finishes on its own thread.
    if (auth != nullptr) auth->Abandon();
    // Requests still waiting for a request thread are not run.
    if (workers != nullptr) workers->Close();
    // mg_stop joins CivetWeb's threads while everything they use is still alive. Its
    // accept loop polls in 2 s slices; poking the port makes it see the stop flag
    // at once instead.
    std::atomic<bool> stopped{false};
    std::thread waker([this, &stopped] {
      for (int i = 0; i < 100 && !stopped.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!stopped.load()) PokeListener(host, port);
      }
    });
    mg_stop(ctx);
    stopped.store(true);
    waker.join();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Logger& logger;
  ServerOptions options;
  struct RouteEntry {
    Handler handler;
    std::vector<std::string> methods;
    std::string allow;  // the 405's Allow header
    bool limited = true;
  };
  std::unordered_map<std::string, RouteEntry> routes;
  WebConfig web;
  std::unique_ptr<BasicAuth> auth;
  mg_context* ctx = nullptr;
  uint16_t port = 0;
  std::string host;
  std::unique_ptr<RequestWorkers> workers;  // options.max_requests threads for limited routes

  std::mutex start_mu;
  std::condition_variable threads_started;  // signalled as threads_ready grows
  uint32_t threads_ready = 0;               // guarded by start_mu: master and workers lowered
  bool starting = true;                     // guarded by start_mu
  std::vector<std::string> start_messages;  // guarded by start_mu
  std::string tls_error;                    // guarded by start_mu

  int Handle(mg_connection* conn);
  void Send(mg_connection* conn, const Request& request, const Response& response, bool head);
  std::optional<Response> ReadBody(mg_connection* conn, std::string& body);
  const RouteEntry* Route(const Request& request, Response* refusal) const;
  Response Call(const RouteEntry& route, const Request& request);
  void Respond(mg_connection* conn, const Request& request, Response& response, bool head);
  void Log(const char* message);

  static int OnBeginRequest(mg_connection* conn);
  static int OnLogMessage(const mg_connection* conn, const char* message);
  static void* OnInitThread(const mg_context* ctx, int thread_type);
  static int OnInitSsl(void* ssl_ctx, void* user_data);
};

void* Server::Impl::OnInitThread(const mg_context* ctx, int thread_type) {
  LowerThreadPriority();
  // Types 0 and 1 are the master and the workers, the threads Start() waits for.
  auto* impl = static_cast<Impl*>(mg_get_user_data(ctx));
  if (impl != nullptr && (thread_type == 0 || thread_type == 1)) {
    std::lock_guard<std::mutex> lock(impl->start_mu);
    ++impl->threads_ready;
    impl->threads_started.notify_all();
  }
  return nullptr;
}

int Server::Impl::OnLogMessage(const mg_connection* conn, const char* message) {
  mg_context* ctx = conn != nullptr ? mg_get_context(conn) : nullptr;
  auto* impl = ctx != nullptr ? static_cast<Impl*>(mg_get_user_data(ctx)) : nullptr;
  if (impl == nullptr) return 0;  // let CivetWeb print it
  try {
    impl->Log(message);
  } catch (...) {
    // Out of memory while logging: drop the line rather than unwind into C.
  }
  return 1;
}

void Server::Impl::Log(const char* message) {
  {
    std::lock_guard<std::mutex> lock(start_mu);
    if (starting) {
      // Reported by Start() in its error, not logged twice.
      start_messages.emplace_back(message);
      return;
    }
  }
  // Failed TLS handshakes (plain HTTP on the TLS port, a missing client certificate)
  // are the client's doing and can be frequent: debug level. The rest matters.
  bool handshake = std::string_view(message).rfind("sslize", 0) == 0;
  logger.Log(handshake ? LogLevel::kDebug : LogLevel::kWarn, "http server", {{"err", message}});
}

int Server::Impl::OnInitSsl(void* ssl_ctx, void* user_data) {
  auto* impl = static_cast<Impl*>(user_data);
  if (impl == nullptr || !impl->web.tls.has_value()) return -1;
  try {
    std::string err =
        detail::ConfigureServerContext(static_cast<ssl_ctx_st*>(ssl_ctx), *impl->web.tls);
    if (!err.empty()) {
      std::lock_guard<std::mutex> lock(impl->start_mu);
      impl->tls_error = err;
      return -1;
    }
  } catch (...) {
    return -1;  // out of memory; must not unwind into CivetWeb
  }
  return 1;  // the context is complete; CivetWeb must not load a PEM itself
}

int Server::Impl::OnBeginRequest(mg_connection* conn) {
  auto* impl = static_cast<Impl*>(mg_get_user_data(mg_get_context(conn)));
  try {
    return impl->Handle(conn);
  } catch (...) {
    // Nothing may unwind into CivetWeb's C code (std::bad_alloc is the one candidate
    // left, handlers' own exceptions are caught in Dispatch). Drop the connection.
    mg_disable_connection_keep_alive(conn);
    return 500;
  }
}

std::optional<Response> Server::Impl::ReadBody(mg_connection* conn, std::string& body) {
  const mg_request_info* info = mg_get_request_info(conn);
  const size_t limit = options.max_body_bytes;
  if (info->content_length > 0 && static_cast<unsigned long long>(info->content_length) > limit) {
    return TextResponse(413, "request body too large\n");
  }
  if (info->content_length > 0) body.reserve(static_cast<size_t>(info->content_length));
  std::string chunk(kReadChunk, '\0');
  // Reads until the declared length or the end of a chunked body; CivetWeb bounds
  // each read by request_timeout_ms.
  for (;;) {
    int n = mg_read(conn, chunk.data(), chunk.size());
    if (n == 0) break;
    if (n < 0) return TextResponse(400, "cannot read request body\n");
    body.append(chunk.data(), static_cast<size_t>(n));
    if (body.size() > limit) return TextResponse(413, "request body too large\n");
  }
  return std::nullopt;
}

const Server::Impl::RouteEntry* Server::Impl::Route(const Request& request,
                                                    Response* refusal) const {
  auto route = routes.find(request.path);
  if (route == routes.end()) {
    *refusal = TextResponse(404, "404 page not found\n");
    return nullptr;
  }
  const RouteEntry& entry = route->second;
  // HEAD arrives here as GET (see Handle).
  if (std::find(entry.methods.begin(), entry.methods.end(), request.method) ==
      entry.methods.end()) {
    *refusal = TextResponse(405, "method not allowed\n");
    refusal->headers.emplace_back("Allow", entry.allow);
    return nullptr;
  }
  return &entry;
}

Response Server::Impl::Call(const RouteEntry& entry, const Request& request) {
  try {
    return entry.handler(request);
  } catch (const std::exception& e) {
    logger.Error("http handler failed", {{"path", request.path}, {"err", e.what()}});
  } catch (...) {
    logger.Error("http handler failed", {{"path", request.path}, {"err", "unknown exception"}});
  }
  return TextResponse(500, "500 internal server error\n");
}

int Server::Impl::Handle(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  Request request;
  request.method = info->request_method != nullptr ? info->request_method : "";
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  request.query = info->query_string != nullptr ? info->query_string : "";
  const char* accept = mg_get_header(conn, "Accept");
  request.accept = accept != nullptr ? accept : "";
  const char* accept_encoding = mg_get_header(conn, "Accept-Encoding");
  request.accept_encoding = accept_encoding != nullptr ? accept_encoding : "";
  request.remote_address = info->remote_addr;

  const bool head = request.method == "HEAD";
  if (head) request.method = "GET";  // same answer, Send() drops the body

  Response response;
  bool answered = false;  // by a request thread
  const char* origin = mg_get_header(conn, "Origin");
  const char* host = mg_get_header(conn, "Host");
  const bool foreign =
      origin != nullptr && !SameOrigin(origin, host != nullptr ? host : "", web.tls.has_value());
  bool authorized = true;
  if (auth != nullptr && !foreign) {
    const char* authorization = mg_get_header(conn, "Authorization");
    authorized = auth->Check(authorization != nullptr ? authorization : "", BasicAuth::Clock::now())
                     .has_value();
  }
  if (foreign) {
    response = TextResponse(403, "cross-origin request refused\n");
    mg_disable_connection_keep_alive(conn);
  } else if (!authorized) {
    response = TextResponse(401, "401 unauthorized\n");
    response.headers.emplace_back("WWW-Authenticate", kRealmHeader);
    // Close instead of letting CivetWeb drain a body nobody will read.
    mg_disable_connection_keep_alive(conn);
  } else if (std::optional<Response> error = ReadBody(conn, request.body)) {
    response = std::move(*error);
    mg_disable_connection_keep_alive(conn);
  } else if (const RouteEntry* route = Route(request, &response); route == nullptr) {
    // 404 or 405, in `response`
  } else if (!route->limited) {
    response = Call(*route, request);
  } else {
    // The handler runs and its answer (maybe streamed) is sent on a request thread.
    answered = workers->Run([&] {
      response = Call(*route, request);
      Respond(conn, request, response, head);
    });
    if (!answered) response = TextResponse(503, "server shutting down\n");
  }
  if (!answered) Respond(conn, request, response, head);
  if (logger.Enabled(LogLevel::kDebug)) {
    logger.Debug("http request", {{"method", head ? "HEAD" : request.method},
                                  {"path", request.path},
                                  {"status", std::to_string(response.status)},
                                  {"remote", request.remote_address}});
  }
  return response.status;
}

void Server::Impl::Respond(mg_connection* conn, const Request& request, Response& response,
                           bool head) {
  if (response.status < 100 || response.status > 599) {
    logger.Error("http handler returned an invalid status",
                 {{"path", request.path}, {"status", std::to_string(response.status)}});
    response = TextResponse(500, "500 internal server error\n");
  }
  Send(conn, request, response, head);
}

void Server::Impl::Send(mg_connection* conn, const Request& request, const Response& response,
                        bool head) {
  std::string compressed;
  bool gzip = false;
  const bool streamed = static_cast<bool>(response.stream);
  // HTTP/1.1 clients get chunks; 1.0 clients read until we close.
  const mg_request_info* info = mg_get_request_info(conn);
  const bool chunked =
      streamed && info->http_version != nullptr && std::string_view(info->http_version) == "1.1";
  if (streamed) {
    gzip = response.compressible && AcceptsGzip(request.accept_encoding);
    if (!chunked) mg_disable_connection_keep_alive(conn);
  } else if (response.compressible && !response.body.empty() &&
             AcceptsGzip(request.accept_encoding)) {
    Expected<std::string, std::string> z = GzipCompress(response.body, kGzipLevel);
    if (z.has_value()) {
      compressed = std::move(z.value());
      gzip = true;
    } else {
      logger.Warn("gzip failed, sending uncompressed", {{"err", z.error()}});
    }
  }
  const std::string& body = gzip ? compressed : response.body;

  mg_response_header_start(conn, response.status);
  auto add = [&](const std::string& name, const std::string& value) {
    if (HasLineBreak(name) || HasLineBreak(value)) {
      logger.Warn("dropping response header with a line break", {{"name", name}});
      return;
    }
    if (mg_response_header_add(conn, name.c_str(), value.c_str(), -1) < 0) {
      logger.Warn("dropping response header", {{"name", name}});
    }
  };
  add("Date", HttpDate(std::time(nullptr)));
  add("Content-Type", response.content_type);
  if (chunked) {
    add("Transfer-Encoding", "chunked");
  } else if (!streamed) {
    add("Content-Length", std::to_string(body.size()));
  }
  if (gzip) add("Content-Encoding", "gzip");
  // Caches must know the body depends on Accept-Encoding, compressed or not.
  if (response.compressible) add("Vary", "Accept-Encoding");
  for (const auto& [name, value] : response.headers) {
    if (IsReservedHeader(name)) continue;
    add(name, value);
  }
  for (const auto& [name, value] : web.headers) add(name, value);
  mg_response_header_send(conn);
  if (head) return;
  if (!streamed) {
    if (!body.empty()) mg_write(conn, body.data(), body.size());
    return;
  }
  // A client that hung up makes writes fail; stop producing then.
  bool broken = false;
  auto raw = [&](std::string_view piece) {
    if (broken || piece.empty()) return;
    int rc = chunked ? mg_send_chunk(conn, piece.data(), static_cast<unsigned>(piece.size()))
                     : mg_write(conn, piece.data(), piece.size());
    if (rc <= 0) broken = true;
  };
  if (gzip) {
    GzipStream z(kGzipLevel, raw);
    response.stream([&](std::string_view piece) { z.Write(piece); });
    z.Finish();
  } else {
    response.stream(raw);
  }
  if (chunked && !broken) mg_send_chunk(conn, "", 0);
}

Expected<std::unique_ptr<Server>, std::string> Server::Start(const ServerOptions& options,
                                                             std::vector<Route> routes,
                                                             Logger& logger) {
  auto impl = std::make_unique<Impl>(logger);
  impl->options = options;
  if (options.connections < 1 || options.connections > kMaxConnections) {
    return MakeUnexpected("http connections must be between 1 and " +
                          std::to_string(kMaxConnections) + ", not " +
                          std::to_string(options.connections));
  }
  if (options.max_requests < 1 || options.max_requests > kMaxRequests) {
    return MakeUnexpected("http max requests must be between 1 and " +
                          std::to_string(kMaxRequests) + ", not " +
                          std::to_string(options.max_requests));
  }
  try {
    impl->workers = std::make_unique<RequestWorkers>(options.max_requests);
  } catch (const std::system_error& e) {
    return MakeUnexpected(std::string("cannot start the HTTP request threads: ") + e.what());
  }
  auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.request_timeout);
  if (timeout_ms.count() < 1)
    return MakeUnexpected(std::string("http request timeout must be at least 1ms"));
  if (options.max_header_bytes < 1024 || options.max_header_bytes > (size_t{1} << 24)) {
    return MakeUnexpected(std::string("http max header size must be between 1 KiB and 16 MiB"));
  }
  for (Route& route : routes) {
    if (route.path.empty() || route.path.front() != '/' || !route.handler ||
        !ValidMethods(route.methods)) {
      return MakeUnexpected("invalid route \"" + route.path + "\"");
    }
    std::string allow = AllowHeader(route.methods);
    Impl::RouteEntry entry{std::move(route.handler), std::move(route.methods), std::move(allow),
                           route.limited};
    if (!impl->routes.emplace(route.path, std::move(entry)).second) {
      return MakeUnexpected("duplicate route \"" + route.path + "\"");
    }
  }
  if (!options.web_config_file.empty()) {
    Expected<WebConfig, std::string> web = LoadWebConfig(options.web_config_file);
    if (!web.has_value()) return MakeUnexpected(web.error());
    impl->web = std::move(web.value());
  }

  const CivetInit& civet = InitCivetWeb();
  Expected<ListenSpec, std::string> spec =
      ParseListenAddress(options.listen_address, mg_check_feature(MG_FEATURES_IPV6) != 0);
  if (!spec.has_value()) return MakeUnexpected(spec.error());
  impl->host = spec->host;
  const bool tls = impl->web.tls.has_value();
  if (tls && (civet.features & MG_FEATURES_TLS) == 0) {
    return MakeUnexpected(
        "TLS is configured in " + options.web_config_file +
        " but CivetWeb could not load OpenSSL (it opens libssl.so and libcrypto.so at run "
        "time: install libssl-dev" +
        (civet.patch == detail::CivetTlsPatch::kNotFound
             ? "; its OpenSSL 3 lookup table could not be adjusted either)"
             : ")"));
  }
  if (tls && civet.patch == detail::CivetTlsPatch::kPatched) {
    logger.Debug("CivetWeb told to use SSL_get1_peer_certificate for OpenSSL 3");
  }
  if (!impl->web.basic_auth_users.empty()) {
    impl->auth = std::make_unique<BasicAuth>(impl->web.basic_auth_users);
  }

  const std::string ports = spec->civet + (tls ? "s" : "");
  const std::string threads = std::to_string(options.connections);
  const std::string timeout = std::to_string(timeout_ms.count());
  const std::string header_bytes = std::to_string(options.max_header_bytes);
  const char* civet_options[] = {
      "listening_ports",
      ports.c_str(),
      "num_threads",
      threads.c_str(),
      "request_timeout_ms",
      timeout.c_str(),
      "max_request_size",
      header_bytes.c_str(),
      // Keep-alive would let idle clients hold worker threads between requests.
      "enable_keep_alive",
      "no",
      nullptr,
  };
  mg_callbacks callbacks{};
  callbacks.begin_request = &Impl::OnBeginRequest;
  callbacks.log_message = &Impl::OnLogMessage;
  callbacks.init_thread = &Impl::OnInitThread;
  if (tls) callbacks.init_ssl = &Impl::OnInitSsl;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = impl.get();
  init.configuration_options = civet_options;
  unsigned error_code = 0;
  std::array<char, 256> error_text{};
  mg_error_data error{&error_code, error_text.data(), error_text.size()};

  impl->ctx = mg_start2(&init, &error);
  std::vector<std::string> start_messages;
  std::string tls_error;
  {
    std::unique_lock<std::mutex> lock(impl->start_mu);
    // mg_start2 returns before its threads have run: wait (briefly) until each has lowered
    // its priority, so that every HTTP thread runs below the probers once Start() returns.
    if (impl->ctx != nullptr) {
      impl->threads_started.wait_for(lock, std::chrono::seconds(10), [&] {
        return impl->threads_ready >= options.connections + 1;
      });
    }
    impl->starting = false;
    start_messages.swap(impl->start_messages);
    tls_error = impl->tls_error;
  }
  if (impl->ctx == nullptr) {
    std::string message = "cannot start HTTP server on " + options.listen_address + ": ";
    if (!tls_error.empty()) {
      message += options.web_config_file + ": tls_server_config: " + tls_error;
    } else {
      // CivetWeb's own summary is generic ("Failed to setup server ports"); the
      // lines it logged before say which address and why.
      std::string summary = error_text.data();
      for (const std::string& m : start_messages) {
        if (m != summary) message += m + "; ";
      }
      message += summary;
    }
    return MakeUnexpected(std::move(message));
  }
  std::array<mg_server_port, 4> bound{};
  int n = mg_get_server_ports(impl->ctx, static_cast<int>(bound.size()), bound.data());
  if (n < 1)
    return MakeUnexpected(std::string("HTTP server started but reports no listening port"));
  impl->port = static_cast<uint16_t>(bound[0].port);
  for (const std::string& m : start_messages) logger.Warn("http server", {{"err", m}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

uint16_t Server::port() const { return impl_->port; }

bool Server::tls() const { return impl_->web.tls.has_value(); }

std::string Server::address() const { return impl_->host + ":" + std::to_string(impl_->port); }

}  // namespace ping_exporter::http
