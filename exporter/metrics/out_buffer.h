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

#include "metrics/proto_wire.h"

namespace ping_exporter::metrics {

/// Receives an exposition in pieces of up to about 256 KiB (text or protobuf bytes).
using Sink = std::function<void(std::string_view)>;

namespace detail {

/// Writes `v` as the text formats spell it (NaN, +Inf, -Inf, else the shortest round trip) into
/// [first, last), which has room for 24 characters; returns the end.
inline char* EncodeTextValue(char* first, char* last, double v) {
  std::string_view special;
  if (std::isnan(v)) {
    special = "NaN";
  } else if (std::isinf(v)) {
    special = v > 0 ? "+Inf" : "-Inf";
  } else {
    return std::to_chars(first, last, v).ptr;
  }
  std::memcpy(first, special.data(), special.size());
  return first + special.size();
}

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
  void PutUint(uint64_t v) { Advance(std::to_chars(End(), data_.get() + kSize, v).ptr); }
  /// A sample value as the text formats spell it (callers reserved Room(kValueRoom)).
  void PutDouble(double v) { Advance(EncodeTextValue(End(), data_.get() + kSize, v)); }
  /// Protobuf base-128 varint (callers reserved Room()).
  void PutVarint(uint64_t v) { Advance(wire::EncodeVarint(End(), v)); }
  /// Protobuf fixed64 double, little endian (callers reserved Room()).
  void PutFixed64(double v) { Advance(wire::EncodeFixed64(End(), v)); }
  void Flush() {
    if (used_ > 0) sink_(std::string_view(data_.get(), used_));
    used_ = 0;
  }

 private:
  char* End() { return data_.get() + used_; }
  void Advance(char* end) { used_ = static_cast<size_t>(end - data_.get()); }

  const Sink& sink_;
  std::unique_ptr<char[]> data_;
  size_t used_ = 0;
};

}  // namespace detail
}  // namespace ping_exporter::metrics
