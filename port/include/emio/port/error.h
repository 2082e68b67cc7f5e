// SPDX-License-Identifier: MIT
// Errors are values: an errno value from the OS, or one of emio's own codes (negative).
// The class is [[nodiscard]], so the compiler refuses a call whose error is silently dropped.
#pragma once

#include <cstdint>

namespace emio {

class [[nodiscard]] Error {
 public:
  // emio's own failures, kept apart from errno values by their sign.
  enum Code : int32_t {
    none = 0,
    registrations_full = -1,   // every slot of the registration arena is in use
    stale_token = -2,          // the registration was already removed (and maybe the slot reused)
    shut_down = -3,            // the driver was shut down
    backend_unavailable = -4,  // the backend asked for is not compiled in or not usable here
    no_storage = -5,           // init was given no storage, or too much, or the one allocation failed
  };

  constexpr Error() = default;
  constexpr Error(Code code) : value_(code) {}  // NOLINT(google-explicit-constructor): Error::shut_down reads best
  static constexpr Error from_errno(int errno_value) { return Error(static_cast<int32_t>(errno_value)); }
  // The calling thread's errno, right after a failed system call.
  static Error last_os_error();
#if defined(_WIN32)
  // Windows reports Win32 codes (GetLastError) and Winsock codes (WSAGetLastError), not errno. A code with
  // an errno meaning (every WSAE* code, ERROR_NETNAME_DELETED = ECONNRESET, ...) becomes that errno value,
  // so that shared code tests one set of values; any other keeps its Win32 code, above windows_code_base.
  static constexpr int32_t windows_code_base = 1 << 24;
  static Error from_windows(unsigned long code);
  static Error last_windows_error();  // GetLastError()
  static Error last_socket_error();   // WSAGetLastError()
  constexpr bool is_windows_code() const { return value_ >= windows_code_base; }
#endif

  constexpr bool ok() const { return value_ == 0; }
  constexpr bool failed() const { return value_ != 0; }
  constexpr int32_t value() const { return value_; }
  constexpr bool is_os_error() const { return value_ > 0; }

  // "EAGAIN", "ECONNREFUSED", "emio: registrations full", ...: short and stable, for logs and tests.
  // Every errno value of the platform has its symbol; a number it does not know is "errno (unnamed)".
  const char* name() const;
  // One line for an operator, to print beside name(): the C library's text for an errno value ("Address
  // already in use"), a sentence for emio's own codes. Static storage: never freed, safe on any thread.
  const char* description() const;

  friend constexpr bool operator==(Error, Error) = default;

 private:
  constexpr explicit Error(int32_t value) : value_(value) {}

  int32_t value_ = 0;
};

}  // namespace emio
