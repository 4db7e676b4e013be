#pragma once
// The writers' output buffer (text, OpenMetrics and protobuf): a fixed block
// written through a raw pointer and handed to the sink when full. A scrape
// appends millions of small pieces; std::string::append's per-call checks
// would dominate otherwise. Internal to metrics/.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>

namespace ping_exporter::metrics {

/// Receives an exposition in pieces of up to about 256 KiB (text or protobuf bytes).
using Sink = std::function<void(std::string_view)>;

namespace detail {

/// Not thread-safe; one per writer call. Flushes what is left when destroyed.
class OutBuffer {
 public:
  static constexpr size_t kSize = 256 * 1024;
  /// Room most lines or messages of a writer need. Label texts are not bounded (a label value
  /// may be long): each piece is checked as it is put, and a longer one goes to the sink
  /// directly (Put()).
  static constexpr size_t kLineRoom = 1024;
  /// Room for what writers put unchecked after the checked pieces of a line: a number (at
  /// most 24 characters) and '\n'.
  static constexpr size_t kValueRoom = 32;

  explicit OutBuffer(const Sink& sink) : sink_(sink), data_(new char[kSize]) {}
  ~OutBuffer() { Flush(); }
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;

  /// Makes sure `n` more bytes fit without a check per piece.
  void Room(size_t n) {
    if (used_ + n > kSize) Flush();
  }
  void Put(std::string_view s) {
    if (s.size() > kLineRoom) {
      Flush();
      sink_(s);
      return;
    }
    Room(s.size());
    std::memcpy(data_.get() + used_, s.data(), s.size());
    used_ += s.size();
  }
  void Put(char c) { data_[used_++] = c; }  // callers reserved Room(), e.g. kValueRoom
  void PutUint(uint64_t v) {
    auto r = std::to_chars(data_.get() + used_, data_.get() + kSize, v);
    used_ = static_cast<size_t>(r.ptr - data_.get());
  }
  /// A sample value as the text formats spell it (NaN, +Inf, -Inf, shortest round trip).
  void PutDouble(double v) {
    if (std::isnan(v)) {
      Put(std::string_view("NaN"));
    } else if (std::isinf(v)) {
      Put(v > 0 ? std::string_view("+Inf") : std::string_view("-Inf"));
    } else {
      auto r = std::to_chars(data_.get() + used_, data_.get() + kSize, v);
      used_ = static_cast<size_t>(r.ptr - data_.get());
    }
  }
  /// Protobuf base-128 varint (callers reserved Room()).
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      data_[used_++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    data_[used_++] = static_cast<char>(v);
  }
  /// Protobuf fixed64 double, little endian (callers reserved Room()).
  void PutFixed64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) data_[used_++] = static_cast<char>(bits >> (8 * i));
  }
  void Flush() {
    if (used_ > 0) sink_(std::string_view(data_.get(), used_));
    used_ = 0;
  }

 private:
  const Sink& sink_;
  std::unique_ptr<char[]> data_;
  size_t used_ = 0;
};

}  // namespace detail
}  // namespace ping_exporter::metrics
