// SPDX-License-Identifier: MIT
// What a daemon needs beside its IO: the log hook, the driver's counters, the systemd helpers and the
// watchdog.
#include <cerrno>
#include <utility>

#include "emio/port/log.h"
#include "emio/runtime/systemd.h"
#include "objects.h"

using emio_capi::to_c;

namespace {

// The C hook, called through a C++ one (the C API's levels are the enum's values).
emio_log_cb c_log_hook = nullptr;

void forward_log(emio::LogLevel level, const char* message, void* context) {
  c_log_hook(static_cast<int>(level), message, context);
}

}  // namespace

static_assert(EMIO_LOG_INFO == static_cast<int>(emio::LogLevel::info));
static_assert(EMIO_LOG_WARNING == static_cast<int>(emio::LogLevel::warning));
static_assert(EMIO_LOG_ERROR == static_cast<int>(emio::LogLevel::error));

extern "C" {

void emio_set_log_hook(emio_log_cb hook, void* context) {
  c_log_hook = hook;
  emio::set_log_hook(hook != nullptr ? forward_log : nullptr, context);
}

void emio_runtime_driver_stats(emio_runtime* runtime, emio_driver_stats* stats) {
  emio::Driver& driver = emio_capi::executor_of(runtime).driver();
  const emio::DriverStats& counters = driver.stats();
  stats->turns = counters.turns;
  stats->events_dispatched = counters.events_dispatched;
  stats->stale_events_dropped = counters.stale_events_dropped;
  stats->wakes_received = counters.wakes_received;
  stats->live_sources = driver.live_registrations();
  stats->source_capacity = driver.registration_capacity();
}

uint32_t emio_systemd_listen_fd_count(void) { return emio::systemd::listen_fd_count(); }

int emio_systemd_listen_fd(uint32_t index) { return emio::systemd::listen_fd(index).release(); }

int emio_systemd_listen_fd_index(const char* name) { return emio::systemd::listen_fd_index(name); }

int emio_systemd_notify(const char* state) { return to_c(emio::systemd::notify(state)); }

uint64_t emio_systemd_watchdog_interval_us(void) { return emio::systemd::watchdog_interval_us(); }

int emio_watchdog_start(emio_runtime* runtime, emio_watchdog* watchdog) {
  if (emio_capi::is_open(watchdog)) return -EBUSY;  // its timer is in the runtime's queue
  emio_capi::Watchdog& object = emio_capi::construct<emio_capi::Watchdog>(watchdog);
  const emio::Error error = object.watchdog.start(emio_capi::executor_of(runtime));
  if (error.failed()) emio_capi::destroy<emio_capi::Watchdog>(watchdog);
  return to_c(error);
}

int emio_watchdog_running(const emio_watchdog* watchdog) {
  if (!emio_capi::is_open(watchdog)) return 0;
  return emio_capi::object_of<emio_capi::Watchdog>(watchdog).watchdog.running() ? 1 : 0;
}

uint64_t emio_watchdog_pings_sent(const emio_watchdog* watchdog) {
  if (!emio_capi::is_open(watchdog)) return 0;
  return emio_capi::object_of<emio_capi::Watchdog>(watchdog).watchdog.pings_sent();
}

void emio_watchdog_close(emio_watchdog* watchdog) { emio_capi::destroy<emio_capi::Watchdog>(watchdog); }

}  // extern "C"
