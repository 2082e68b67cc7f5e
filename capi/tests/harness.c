// SPDX-License-Identifier: MIT
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* Turns of run_until, 100 ms at most each: a minute, for slow runs under qemu and sanitizers. */
#define MAX_TURNS 600

int failures;
emio_runtime runtime;

void skip_case(const char* reason) {
  fprintf(stderr, "skipped: %s\n", reason);
  exit(EMIO_TEST_SKIPPED);
}

void init_runtime(void) { CHECK(emio_runtime_init(&runtime, NULL) == EMIO_OK); }

void run_until(const int* counter, int target) {
  int turn;
  for (turn = 0; turn < MAX_TURNS && *counter < target; ++turn) {
    CHECK(emio_runtime_run_once(&runtime, 100) == EMIO_OK);
  }
  CHECK(*counter >= target);
}

void run_a_few_turns(int turns) {
  int turn;
  for (turn = 0; turn < turns; ++turn) CHECK(emio_runtime_run_once(&runtime, 10) == EMIO_OK);
}

int run_named_case(const struct test_case* cases, size_t count, int argc, char** argv) {
  size_t i;
  for (i = 0; argc == 2 && i < count; ++i) {
    if (strcmp(argv[1], cases[i].name) != 0) continue;
    cases[i].run();
    return failures == 0 ? 0 : 1;
  }
  fprintf(stderr, "usage: %s CASE\n", argc > 0 ? argv[0] : "test");
  return 2;
}
