#pragma once
// gzip for HTTP responses: a compressor and an Accept-Encoding check.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace ping_exporter::http {

/// Compresses `data` into one gzip member (RFC 1952) at zlib `level` (1 = fastest,
/// 9 = smallest). Pure function, thread-safe. Returns zlib's message on failure
/// (only out of memory in practice); never throws except std::bad_alloc.
Expected<std::string, std::string> GzipCompress(std::string_view data, int level = 1);

/// Incremental gzip: Write() pieces, then Finish(); compressed output goes to
/// `sink` in pieces of up to 64 KiB. Not thread-safe; one per response.
class GzipStream {
 public:
  using Sink = std::function<void(std::string_view)>;
  GzipStream(int level, Sink sink);
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  /// False if zlib could not be set up (out of memory).
  bool ok() const { return ok_; }
  void Write(std::string_view data);
  void Finish();

 private:
  void Run(std::string_view data, int flush);
  struct State;
  std::unique_ptr<State> state_;
  Sink sink_;
  bool ok_ = false;
};

/// Whether an Accept-Encoding header value (RFC 9110 12.5.3) accepts gzip: "gzip" or
/// "x-gzip" with q > 0, or else "*" with q > 0. An empty header accepts nothing
/// (identity is always fine, so there is no reason to guess).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace ping_exporter::http
