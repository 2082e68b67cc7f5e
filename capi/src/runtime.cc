// SPDX-License-Identifier: MIT
// emio_runtime_* and emio_timer_*: the executor and its timers.
#include "emio/driver/backend_config.h"
#include "emio/port/clock.h"
#include "objects.h"

using emio_capi::construct;
using emio_capi::executor_of;
using emio_capi::object_of;
using emio_capi::to_c;

namespace {

// C code has no coroutines: no frame pool. Tasks are the IoWatch callbacks and timers only.
emio::ExecutorConfig executor_config(const emio_runtime_config& config, emio::BackendChoice backend) {
  emio::ExecutorConfig executor;
  executor.driver.registration_capacity = config.max_sources;
  executor.driver.event_capacity = 64;
  executor.driver.backend = backend;
  executor.timer_capacity = config.max_timers;
  executor.task_capacity = 4;
  executor.frame_count = 0;
  executor.inbox_capacity = 4;
  return executor;
}

void on_timer(emio::Timer&, void* context) {
  emio_capi::Timer& timer = *static_cast<emio_capi::Timer*>(context);
  timer.callback(timer.self, timer.context);  // last: the callback may close the timer
}

}  // namespace

extern "C" {

void emio_runtime_config_default(emio_runtime_config* config) {
  config->max_sources = 64;
  config->max_timers = 16;
  config->backend = nullptr;
}

int emio_runtime_init(emio_runtime* runtime, const emio_runtime_config* config) {
  emio_runtime_config chosen;
  emio_runtime_config_default(&chosen);
  if (config != nullptr) chosen = *config;
  emio::BackendChoice backend = emio::BackendChoice::automatic;
  if (chosen.backend != nullptr) {
    if (emio::Error error = emio::parse_backend_choice(chosen.backend, backend); error.failed()) return to_c(error);
  }
  emio::Executor& executor = construct<emio_capi::Runtime>(runtime).executor;
  const emio::Error error = executor.init(executor_config(chosen, backend));
  if (error.failed()) emio_capi::destroy<emio_capi::Runtime>(runtime);
  return to_c(error);
}

int emio_runtime_run(emio_runtime* runtime) { return to_c(executor_of(runtime).run()); }

int emio_runtime_run_once(emio_runtime* runtime, int max_wait_ms) {
  return to_c(executor_of(runtime).run_once(max_wait_ms));
}

void emio_runtime_stop(emio_runtime* runtime) { executor_of(runtime).stop(); }

const char* emio_runtime_backend(emio_runtime* runtime) { return executor_of(runtime).backend_name(); }

void emio_runtime_destroy(emio_runtime* runtime) { emio_capi::destroy<emio_capi::Runtime>(runtime); }

void emio_timer_init(emio_runtime* runtime, emio_timer* timer) {
  emio_capi::Timer& object = construct<emio_capi::Timer>(timer);
  object.executor = &executor_of(runtime);
  object.self = timer;
}

int emio_timer_start(emio_timer* timer, uint32_t delay_ms, uint32_t period_ms, emio_timer_cb callback, void* context) {
  emio_capi::Timer& object = object_of<emio_capi::Timer>(timer);
  object.callback = callback;
  object.context = context;
  emio::TimerQueue& timers = object.executor->timers();
  const uint64_t deadline_ms = emio::monotonic_now_ms() + delay_ms;
  return to_c(timers.start_at(object.timer, deadline_ms, period_ms, on_timer, &object));
}

int emio_timer_stop(emio_timer* timer) { return object_of<emio_capi::Timer>(timer).timer.cancel() ? 1 : 0; }

uint64_t emio_timer_lateness_ms(const emio_timer* timer) {
  return object_of<emio_capi::Timer>(timer).timer.lateness_ms();
}

void emio_timer_close(emio_timer* timer) { emio_capi::destroy<emio_capi::Timer>(timer); }

}  // extern "C"
