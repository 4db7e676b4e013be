#pragma once
// A small value-or-error type: errors are values at module edges (std::expected
// is not usable with clang 14, which builds the fuzzers).

#include <utility>
#include <variant>

namespace ping_exporter {

template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
Unexpected<E> MakeUnexpected(E error) {
  return Unexpected<E>{std::move(error)};
}

/// Holds either a T or an error E. Not thread-safe; a plain value type.
template <typename T, typename E>
class Expected {
 public:
  Expected(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <typename U>
  Expected(Unexpected<U> error)  // NOLINT: implicit by design
      : state_(std::in_place_index<1>, E(std::move(error.error))) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

}  // namespace ping_exporter
