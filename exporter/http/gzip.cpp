#include "http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>

#include "common/text.h"

namespace ping_exporter::http {
namespace {

// windowBits 15 + 16 asks zlib for the gzip wrapper instead of the zlib one.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;
// zlib counts in uInt; feed large inputs in slices that fit.
constexpr size_t kMaxSlice = size_t{1} << 30;

/// Owns a deflate stream so every exit path calls deflateEnd.
class Deflater {
 public:
  Deflater() = default;
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() {
    if (initialized_) deflateEnd(&stream_);
  }
  int Init(int level) {
    int rc =
        deflateInit2(&stream_, level, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY);
    initialized_ = rc == Z_OK;
    return rc;
  }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool initialized_ = false;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); returns thousandths.
std::optional<int> ParseQ(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  int whole = text[0] - '0';
  int thousandths = 0;
  if (text.size() > 1) {
    if (text[1] != '.' || text.size() > 5) return std::nullopt;
    int scale = 100;
    for (char c : text.substr(2)) {
      if (c < '0' || c > '9') return std::nullopt;
      thousandths += (c - '0') * scale;
      scale /= 10;
    }
  }
  int q = whole * 1000 + thousandths;
  if (q > 1000) return std::nullopt;
  return q;
}

}  // namespace

Expected<std::string, std::string> GzipCompress(std::string_view data, int level) {
  Deflater deflater;
  if (deflater.Init(std::clamp(level, 1, 9)) != Z_OK) {
    return MakeUnexpected(std::string("deflateInit2 failed"));
  }
  z_stream& zs = deflater.stream();
  std::string out;
  // deflateBound makes one pass enough for inputs up to kMaxSlice; larger ones grow below.
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min(data.size(), kMaxSlice))));
  size_t consumed = 0;
  size_t produced = 0;
  for (;;) {
    size_t slice = std::min(data.size() - consumed, kMaxSlice);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
    zs.avail_in = static_cast<uInt>(slice);
    bool last = consumed + slice == data.size();
    int flush = last ? Z_FINISH : Z_NO_FLUSH;
    int rc = Z_OK;
    do {
      if (produced == out.size()) out.resize(out.size() * 2 + 64);
      size_t room = std::min(out.size() - produced, kMaxSlice);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      zs.avail_out = static_cast<uInt>(room);
      rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) {
        return MakeUnexpected(std::string(zs.msg != nullptr ? zs.msg : "deflate failed"));
      }
      produced += room - zs.avail_out;
    } while (zs.avail_out == 0 || (last && rc != Z_STREAM_END));
    consumed += slice;
    if (last) break;
  }
  out.resize(produced);
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  std::optional<int> gzip_q;
  std::optional<int> star_q;
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);

    size_t semi = element.find(';');
    std::string_view coding = Trim(element.substr(0, semi));
    std::string_view params =
        semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    int q = 1000;
    while (!params.empty()) {
      size_t next = params.find(';');
      std::string_view param = Trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      if (EqualsIgnoreCase(Trim(param.substr(0, eq)), "q")) {
        // A malformed weight is treated as a refusal: identity is always safe.
        q = ParseQ(Trim(param.substr(eq + 1))).value_or(0);
      }
    }
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q.value_or(0), q);
    } else if (coding == "*") {
      star_q = std::max(star_q.value_or(0), q);
    }
  }
  if (gzip_q.has_value()) return *gzip_q > 0;
  return star_q.value_or(0) > 0;
}

struct GzipStream::State {
  Deflater deflater;
  std::string out;
};

GzipStream::GzipStream(int level, Sink sink)
    : state_(std::make_unique<State>()), sink_(std::move(sink)) {
  ok_ = state_->deflater.Init(std::clamp(level, 1, 9)) == Z_OK;
  state_->out.resize(64 * 1024);
}

GzipStream::~GzipStream() = default;

void GzipStream::Run(std::string_view data, int flush) {
  if (!ok_) return;
  z_stream& zs = state_->deflater.stream();
  while (!data.empty() || flush == Z_FINISH) {
    size_t slice = std::min(data.size(), kMaxSlice);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(slice);
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(state_->out.data());
      zs.avail_out = static_cast<uInt>(state_->out.size());
      rc = deflate(&zs, slice == data.size() ? flush : Z_NO_FLUSH);
      size_t produced = state_->out.size() - zs.avail_out;
      if (produced > 0) sink_(std::string_view(state_->out.data(), produced));
      if (rc == Z_STREAM_ERROR) {
        ok_ = false;
        return;
      }
    } while (zs.avail_out == 0);
    data.remove_prefix(slice);
    if (flush == Z_FINISH && data.empty()) {
      if (rc == Z_STREAM_END) return;
    }
  }
}

void GzipStream::Write(std::string_view data) {
  if (!data.empty()) Run(data, Z_NO_FLUSH);
}

void GzipStream::Finish() { Run({}, Z_FINISH); }

}  // namespace ping_exporter::http
