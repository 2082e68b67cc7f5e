// SPDX-License-Identifier: MIT
// EMIO_TEST_SANITIZED: defined when the test binary is built with ASan or TSan. GCC says so with
// __SANITIZE_*__, clang 14 only through __has_feature.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EMIO_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EMIO_TEST_SANITIZED 1
#endif
#endif
