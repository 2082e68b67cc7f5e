// SPDX-License-Identifier: MIT
// Result<T>: a value or an Error, for code built without exceptions.
#pragma once

#include <cassert>
#include <new>
#include <type_traits>
#include <utility>

#include "emio/port/error.h"

namespace emio {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : has_value_(true) { new (&value_) T(std::move(value)); }  // NOLINT(google-explicit-constructor)
  Result(Error error) : error_(error) { assert(error.failed() && "a Result error must be a failure"); }  // NOLINT
  Result(Error::Code code) : Result(Error(code)) {}  // NOLINT(google-explicit-constructor)
  Result(Result&& other) noexcept : has_value_(other.has_value_), error_(other.error_) {
    if (has_value_) new (&value_) T(std::move(other.value_));
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  Result& operator=(Result&&) = delete;
  ~Result() {
    if (has_value_) value_.~T();
  }

  bool ok() const { return has_value_; }
  Error error() const { return error_; }
  T& value() {
    assert(has_value_);
    return value_;
  }
  const T& value() const {
    assert(has_value_);
    return value_;
  }

 private:
  bool has_value_ = false;
  Error error_{};
  union {
    T value_;
  };
};

}  // namespace emio
