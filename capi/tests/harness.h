// SPDX-License-Identifier: MIT
/* What every C API test file shares: CHECK, the runtime under test, turning it until a counter moves,
 * and the main() that runs one named case (ctest runs each case as its own test, capi.<case>). */
#ifndef EMIO_CAPI_TEST_HARNESS_H
#define EMIO_CAPI_TEST_HARNESS_H

#include <stddef.h>
#include <stdio.h>

#include "emio.h"

extern int failures;
#define CHECK(condition)                                                            \
  do {                                                                              \
    if (!(condition)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #condition); \
      failures += 1;                                                                \
    }                                                                               \
  } while (0)

extern emio_runtime runtime;

void init_runtime(void);
/* Turns the loop until *counter reaches target; fails the test after a generous number of 100 ms turns. */
void run_until(const int* counter, int target);
/* Turns the loop `turns` times without waiting long, for "nothing happens" checks. */
void run_a_few_turns(int turns);

/* Ends the case at once as skipped (ctest's SKIP_RETURN_CODE), saying why: a behaviour this build cannot show. */
void skip_case(const char* reason);

struct test_case {
  const char* name;
  void (*run)(void);
};

/* Usage: PROGRAM CASE. Exit 0 when the case holds, 1 when it fails, 77 when skipped, 2 for an unknown case. */
#define EMIO_TEST_SKIPPED 77
int run_named_case(const struct test_case* cases, size_t count, int argc, char** argv);

#endif /* EMIO_CAPI_TEST_HARNESS_H */
