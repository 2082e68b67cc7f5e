// What every driver test needs: a driver on the backend under test, and a waker that counts its calls.
#pragma once

#include <atomic>

#include "emio/driver/driver.h"

namespace emio_test {

inline emio::DriverConfig driver_config(uint32_t registration_capacity = 64, uint32_t event_capacity = 64) {
  emio::DriverConfig config;
  config.registration_capacity = registration_capacity;
  config.event_capacity = event_capacity;
  return config;
}

struct CountingWaker {
  std::atomic<int> calls{0};
  static void on_wake(void* context) { static_cast<CountingWaker*>(context)->calls.fetch_add(1); }
  emio::Waker waker() { return emio::Waker{on_wake, this}; }
};

}  // namespace emio_test
