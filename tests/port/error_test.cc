// SPDX-License-Identifier: MIT
#include "emio/port/error.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "emio/port/result.h"

#include <CppUTest/TestHarness.h>

TEST_GROUP(Error){};

TEST(Error, DefaultIsSuccess) {
  const emio::Error error;
  CHECK(error.ok());
  STRCMP_EQUAL("ok", error.name());
}

TEST(Error, ErrnoValuesHaveTheirNames) {
  STRCMP_EQUAL("ECONNREFUSED", emio::Error::from_errno(ECONNREFUSED).name());
  STRCMP_EQUAL("EADDRINUSE", emio::Error::from_errno(EADDRINUSE).name());
  STRCMP_EQUAL("EMFILE", emio::Error::from_errno(EMFILE).name());
  CHECK(emio::Error::from_errno(EAGAIN).is_os_error());
}

TEST(Error, FileErrorsAnOperatorMeetsHaveTheirNames) {
  STRCMP_EQUAL("EISDIR", emio::Error::from_errno(EISDIR).name());  // --serial /tmp
  STRCMP_EQUAL("ENOTDIR", emio::Error::from_errno(ENOTDIR).name());
  STRCMP_EQUAL("EROFS", emio::Error::from_errno(EROFS).name());
}

#ifdef __linux__
TEST(Error, EveryLinuxErrnoValueHasAName) {
  for (int value = 1; value <= 133; ++value) {
    if (value == 41 || value == 58) continue;  // the two numbers Linux leaves unused
    CHECK_TEXT(std::strcmp(emio::Error::from_errno(value).name(), "errno (unnamed)") != 0,
               std::to_string(value).c_str());
  }
}
#endif

TEST(Error, EveryErrorHasAOneLineDescription) {
  STRCMP_EQUAL("Address already in use", emio::Error::from_errno(EADDRINUSE).description());
  CHECK(std::strstr(emio::Error(emio::Error::registrations_full).description(), "registration_capacity") != nullptr);
  STRCMP_EQUAL("success", emio::Error{}.description());
  CHECK(std::strchr(emio::Error::from_errno(200).description(), '\n') == nullptr);
}

TEST(Error, OwnCodesAreNotErrnoValues) {
  const emio::Error error = emio::Error::registrations_full;
  CHECK(error.failed());
  CHECK_FALSE(error.is_os_error());
  STRCMP_EQUAL("emio: registrations full", error.name());
}

TEST(Error, LastOsErrorReadsErrno) {
  errno = EBADF;
  STRCMP_EQUAL("EBADF", emio::Error::last_os_error().name());
}

TEST(Error, ResultHoldsAValueOrAnError) {
  emio::Result<int> value = 7;
  CHECK(value.ok());
  CHECK_EQUAL(7, value.value());
  emio::Result<int> failure = emio::Error::shut_down;
  CHECK_FALSE(failure.ok());
  CHECK(failure.error() == emio::Error::shut_down);
}
