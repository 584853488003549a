#pragma once
// A minimal expected-like result (std::expected is C++23). Errors are values (STYLE.md).
#include <cassert>
#include <utility>
#include <variant>

namespace stockd {

template <class E>
struct unexpected {
  // A constructor rather than an aggregate: `unexpected(e)` on an aggregate needs C++20's
  // parenthesized aggregate initialization, which clang implements only from 16 (the fuzz build
  // uses clang 14).
  explicit unexpected(E e) : error(std::move(e)) {}
  E error;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  result(unexpected<G> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const& { assert(!has_value()); return std::get<1>(v_); }

private:
  std::variant<T, E> v_;
};

template <class E>
class result<void, E> {
public:
  result() = default;
  template <class G>
  result(unexpected<G> e) : error_(E(std::move(e.error))), failed_(true) {}
  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  const E& error() const& { assert(failed_); return error_; }

private:
  E error_{};
  bool failed_ = false;
};

} // namespace stockd
