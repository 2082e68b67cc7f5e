// SPDX-License-Identifier: MIT
// What a fuzz target does when an invariant breaks: say which, then abort, so that libFuzzer saves the
// input as a crash (docs/testing.md says how to replay one).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, what)                                                           \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, what); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
