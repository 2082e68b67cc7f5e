// SPDX-License-Identifier: MIT
#include "emio/port/clock.h"

#include <chrono>
#include <thread>

#include <CppUTest/TestHarness.h>

TEST_GROUP(Clock){};

TEST(Clock, NeverGoesBack) {
  uint64_t previous_ns = emio::monotonic_now_ns();
  for (int sample = 0; sample < 100000; ++sample) {
    const uint64_t now_ns = emio::monotonic_now_ns();
    CHECK(now_ns >= previous_ns);
    previous_ns = now_ns;
  }
}

TEST(Clock, AdvancesWithTime) {
  const uint64_t start_ms = emio::monotonic_now_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t waited_ms = emio::monotonic_now_ms() - start_ms;
  CHECK(waited_ms >= 45);   // sleep_for may end a timer tick early on Windows (15.6 ms granularity)
  CHECK(waited_ms < 5000);  // nanoseconds not mistaken for microseconds, or the like
}
