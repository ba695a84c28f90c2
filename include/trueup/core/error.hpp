#pragma once
// Expected failures are values. `Error` carries an `Errc` (with its
// std::error_category), a human message and whether a retry can help.
// `Result<T>` is an expected-style holder of either a T or an Error.
//
// Thread-safety: plain values; no shared state.

#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace trueup {

enum class Errc {
  ok = 0,
  unavailable,        // the peer (store, bus, remote API) cannot be reached now
  timeout,            // the operation did not finish in time
  overloaded,         // a bounded queue or pool is full
  conflict,           // concurrent modification, serialization failure
  not_found,          // the thing asked for does not exist
  invalid_argument,   // the caller sent something malformed
  already_exists,     // a create collided with an existing entity
  checksum_mismatch,  // stored data disagrees with what it must be (e.g. migrations)
  unsupported,        // not built or not configured
  unauthenticated,    // credentials or a signature missing or wrong
  internal,           // a bug or an unexpected state
};

const std::error_category& trueup_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

// Whether retrying the same operation later may succeed.
constexpr bool is_retryable(Errc e) noexcept {
  switch (e) {
    case Errc::unavailable:
    case Errc::timeout:
    case Errc::overloaded:
    case Errc::conflict:
      return true;
    default:
      return false;
  }
}

struct Error {
  Errc code = Errc::internal;
  std::string message;

  bool retryable() const noexcept { return is_retryable(code); }
  // "unavailable: connection refused"
  std::string describe() const;
};

struct Ok {};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

using Status = Result<Ok>;

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace trueup

namespace std {
template <>
struct is_error_code_enum<trueup::Errc> : true_type {};
}  // namespace std
