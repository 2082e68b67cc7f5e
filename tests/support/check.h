// SPDX-License-Identifier: MIT
// Assertions for emio's error values, printing the error's name on failure.
#pragma once

#include <cstddef>

#include "emio/port/error.h"
#include "emio/port/result.h"

#include <CppUTest/TestHarness.h>

#define CHECK_OK(expression)                                    \
  do {                                                          \
    const ::emio::Error check_ok_error_ = (expression);         \
    if (check_ok_error_.failed()) FAIL(check_ok_error_.name()); \
  } while (0)

#define CHECK_ERROR(expected, expression)                                     \
  do {                                                                        \
    const ::emio::Error check_error_actual_ = (expression);                   \
    STRCMP_EQUAL(::emio::Error(expected).name(), check_error_actual_.name()); \
  } while (0)

namespace emio_test {

// The value of a Result, failing the test (with the error's name) when there is none.
template <typename T>
T value_or_fail(emio::Result<T>& result, const char* file, size_t line) {
  if (!result.ok()) FAIL_TEST_LOCATION(result.error().name(), file, line);
  return result.value();
}
template <typename T>
T value_or_fail(emio::Result<T>&& result, const char* file, size_t line) {
  return value_or_fail(result, file, line);
}

}  // namespace emio_test

#define REQUIRE_VALUE(expression) ::emio_test::value_or_fail((expression), __FILE__, __LINE__)
