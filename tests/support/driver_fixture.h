// SPDX-License-Identifier: MIT
// What every driver test needs: a driver on the backend under test, and a waker that counts its calls.
// main.cc runs the whole suite once per backend compiled in and sets current_backend for each run.
#pragma once

#include <atomic>

#include "emio/driver/driver.h"

namespace emio_test {

// kqueue through libkqueue (the kqueue-linux preset). Where libkqueue differs from a BSD kernel in a way
// a test sees, the test says which and why, and checks what libkqueue does (docs/design.md, "The kqueue
// backend", lists them).
#if defined(EMIO_BACKEND_KQUEUE) && defined(__linux__)
inline constexpr bool on_libkqueue = true;
#else
inline constexpr bool on_libkqueue = false;
#endif

// IOCP (Windows, under wine here). AFD reports levels, and the backend emulates epoll's edges by polling a
// reported direction again only once its task cleared it after EAGAIN (docs/design.md, "Windows"):
// where that differs from epoll's edge per change, a test says so and checks what IOCP does.
#if defined(EMIO_BACKEND_IOCP)
inline constexpr bool on_iocp = true;
#else
inline constexpr bool on_iocp = false;
#endif

// The sim backend (the sim presets) splits an edge that is both readable and writable into two events,
// as kqueue does; a test that counts events says so.
#if defined(EMIO_BACKEND_SIM)
inline constexpr bool on_sim = true;
#else
inline constexpr bool on_sim = false;
#endif

// The backend the suite runs on now (main.cc sets it before each run).
inline emio::BackendChoice current_backend = emio::BackendChoice::epoll;

inline emio::DriverConfig driver_config(uint32_t registration_capacity = 64, uint32_t event_capacity = 64) {
  emio::DriverConfig config;
  config.registration_capacity = registration_capacity;
  config.event_capacity = event_capacity;
  config.backend = current_backend;
  return config;
}

struct CountingWaker {
  std::atomic<int> calls{0};
  static void on_wake(void* context) { static_cast<CountingWaker*>(context)->calls.fetch_add(1); }
  emio::Waker waker() { return emio::Waker{on_wake, this}; }
};

}  // namespace emio_test
