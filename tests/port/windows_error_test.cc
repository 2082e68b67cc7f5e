// SPDX-License-Identifier: MIT
// Error on Windows: Win32 and Winsock codes become errno values where they mean the same, and keep a name
// of their own where they do not.
// winsock2.h must come before windows.h, which would pull the old winsock.h in.
// clang-format off
#include <winsock2.h>
#include <windows.h>
// clang-format on

#include <cstring>

#include "emio/port/error.h"

#include <CppUTest/TestHarness.h>

TEST_GROUP(WindowsError){};

TEST(WindowsError, WinsockCodesBecomeTheirErrnoTwins) {
  CHECK(emio::Error::from_windows(WSAECONNRESET) == emio::Error::from_errno(ECONNRESET));
  CHECK(emio::Error::from_windows(WSAEWOULDBLOCK) == emio::Error::from_errno(EWOULDBLOCK));
  CHECK(emio::Error::from_windows(WSAEADDRINUSE) == emio::Error::from_errno(EADDRINUSE));
  STRCMP_EQUAL("ECONNREFUSED", emio::Error::from_windows(WSAECONNREFUSED).name());
}

TEST(WindowsError, OverlappedCompletionCodesBecomeErrnoValues) {
  // What GetQueuedCompletionStatusEx reports for a reset connection and for a cancelled operation.
  STRCMP_EQUAL("ECONNRESET", emio::Error::from_windows(ERROR_NETNAME_DELETED).name());
  STRCMP_EQUAL("ECANCELED", emio::Error::from_windows(ERROR_OPERATION_ABORTED).name());
  STRCMP_EQUAL("EPIPE", emio::Error::from_windows(ERROR_BROKEN_PIPE).name());
}

TEST(WindowsError, EveryMappedWinsockCodeHasAnErrnoName) {
  // A mapping target missing from the errno table (EWOULDBLOCK is 140 on mingw, apart from EAGAIN) would
  // print as a bare number.
  for (unsigned long code = WSABASEERR; code <= WSABASEERR + 100; ++code) {
    const emio::Error error = emio::Error::from_windows(code);
    if (error.is_windows_code()) continue;
    CHECK_TEXT(std::strcmp(error.name(), "errno (unnamed)") != 0, error.description());
  }
}

TEST(WindowsError, CodesWithoutAnErrnoMeaningKeepTheirOwnName) {
  const emio::Error error = emio::Error::from_windows(ERROR_NOT_FOUND);
  CHECK(error.is_windows_code());
  CHECK(error.is_os_error());
  STRCMP_EQUAL("ERROR_NOT_FOUND", error.name());
  CHECK(std::strchr(error.description(), '\n') == nullptr);
  STRCMP_EQUAL("Win32 error (unnamed)", emio::Error::from_windows(ERROR_INVALID_PRINTER_NAME).name());
}

TEST(WindowsError, ZeroIsSuccess) { CHECK(emio::Error::from_windows(0).ok()); }

TEST(WindowsError, LastSocketErrorReadsWinsock) {
  ::WSASetLastError(WSAENOTSOCK);
  STRCMP_EQUAL("ENOTSOCK", emio::Error::last_socket_error().name());
}

TEST(WindowsError, LastWindowsErrorReadsGetLastError) {
  ::SetLastError(ERROR_ACCESS_DENIED);
  STRCMP_EQUAL("EACCES", emio::Error::last_windows_error().name());
}
