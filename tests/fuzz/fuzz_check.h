// SPDX-License-Identifier: MIT
// What a fuzz target does when an invariant breaks: say which, then abort, so that libFuzzer saves the
// input as a crash (docs/testing.md says how to replay one).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace emio_fuzz {
// Set by a target that can say more about a failure than the check's words (the driver target prints the
// steps that led to it): called before the abort, once (a check failing inside it just aborts).
inline void (*report_failure)() = nullptr;
}  // namespace emio_fuzz

#define FUZZ_CHECK(condition, what)                                                           \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, what); \
      if (auto* report = std::exchange(emio_fuzz::report_failure, nullptr)) report();         \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
