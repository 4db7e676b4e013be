#pragma once
// The HTTP front: CivetWeb behind a small interface, so no CivetWeb type leaks out.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/expected.h"
#include "common/log.h"

namespace ping_exporter::http {

/// One parsed request, as handlers see it.
struct Request {
  std::string method;           ///< "GET", "POST", ...
  std::string path;             ///< decoded path without the query, e.g. "/metrics"
  std::string query;            ///< raw query string without '?', may be empty
  std::string accept;           ///< the Accept header, may be empty
  std::string accept_encoding;  ///< the Accept-Encoding header, may be empty
  std::string body;             ///< request body (bounded by the server)
  std::string remote_address;   ///< peer IP as text
};

/// What a handler returns. The server adds Content-Length and, when
/// `compressible` and the client accepts gzip, compresses the body.
/// Receives one piece of a streamed body.
using BodyWriter = std::function<void(std::string_view)>;

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool compressible = false;
  /// When set, the body is produced by calling stream(writer) instead of
  /// `body`: sent chunked (HTTP/1.1) or close-delimited (HTTP/1.0), gzipped
  /// on the fly when allowed, so a large body is never held whole in memory.
  /// Called on the request thread after the status line and headers.
  std::function<void(const BodyWriter&)> stream;
};

/// Called on one of the server's threads; must be thread-safe. May throw:
/// the server answers 500 and logs the message.
using Handler = std::function<Response(const Request&)>;

/// A path, its handler and the methods it answers. The server answers any other
/// method itself (405 with an Allow header) without calling the handler.
struct Route {
  std::string path;  ///< exact match, e.g. "/metrics"
  Handler handler;
  /// Upper case, e.g. {"POST"}. GET implies HEAD, which is run as GET
  /// without sending the body, so HEAD is never listed.
  std::vector<std::string> methods = {"GET"};
  /// Whether a request counts against ServerOptions::max_requests. Cheap answers that
  /// must come through under load (health checks) set it to false.
  bool limited = true;
};

struct ServerOptions {
  std::string listen_address = ":9823";  ///< "host:port", "[v6]:port" or ":port"; port 0 picks one
  /// Connections served at once. CivetWeb gives each accepted connection one of this many
  /// threads (100 KiB stacks, started with the server) until it closes, also while the client
  /// is still sending its request head, so idle and slow clients hold threads: a scrape finds
  /// a free one as long as fewer than this many are held. Further connections wait in the
  /// kernel's accept queue.
  uint32_t connections = 512;
  /// Requests of `limited` routes handled at once: their handlers run, and their answers
  /// are sent, on this many threads of the server's own ("http-request"), in order of
  /// arrival; the connection threads only hand requests over and wait. Bounds the memory
  /// and CPU of concurrent scrapes (a burst is served a few at a time, not all slowly),
  /// and keeps what making a page touches (stack, malloc caches) to these few threads.
  uint32_t max_requests = 8;
  /// CivetWeb's request_timeout_ms: the longest wait for a whole request head (counted from
  /// the connection's start, however slowly it trickles in), and for progress on each read of
  /// a body or write of an answer.
  Duration request_timeout = std::chrono::seconds(5);
  std::string web_config_file;  ///< exporter-toolkit web config (TLS, auth); "" = plain HTTP
  size_t max_body_bytes = size_t{1} << 20;     ///< larger request bodies get 413
  size_t max_header_bytes = size_t{16} << 10;  ///< larger request line + headers get 4xx
};

/// A running HTTP(S) server. Starts in Start(), stops (joins its threads) in
/// the destructor. Not copyable. Unknown paths get 404, a method the route does
/// not list gets 405 with an Allow header. HEAD runs the handler as GET and sends
/// only the headers. A request whose Origin header is not this server (scheme and
/// Host header) gets 403: a browser page from elsewhere cannot make it act. With
/// basic_auth_users in the web config every path needs credentials (401 otherwise). Start() never
/// throws on bad input: a malformed address, a port in use or a bad web config come back as an
/// error string. `logger` is borrowed and must outlive the server. Note: CivetWeb sets SIGPIPE to
/// ignored for the whole process.
class Server {
 public:
  static Expected<std::unique_ptr<Server>, std::string> Start(const ServerOptions& options,
                                                              std::vector<Route> routes,
                                                              Logger& logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port actually bound (useful with port 0).
  uint16_t port() const;
  /// Whether the server speaks TLS.
  bool tls() const;
  /// "host:port" actually bound, e.g. "127.0.0.1:41234" or "0.0.0.0:9823".
  std::string address() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ping_exporter::http
