// SPDX-License-Identifier: MIT
// The driver API under random sequences of add_source, deregister, turn(0), wake, poll_ready, clear_waker,
// clear_readiness (after reading to EAGAIN, as its contract asks), writes, fds closed and reopened without
// deregister, and completion operations submitted and cancelled, over real pipes and socket pairs, on
// every backend compiled in (one driver each, kept across inputs). After every step:
//   - no readable event reaches a registration whose file never had bytes (no event to a new owner);
//   - a waker is never called once clear_waker, deregister or a ready poll_ready said it would not be;
//   - a registration whose file holds bytes is reported readable (no lost event);
//   - every operation completes exactly once, and its bytes arrive in order, none lost or doubled;
//   - live_registrations and operations_in_flight agree with the model;
// and after each input, every registration and operation is gone and nothing was allocated.
#include <fuzzer/FuzzedDataProvider.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/common_interface_defs.h>

#include <atomic>
#include <cstdio>

#include "fuzz/driver_checks.h"
#include "fuzz/driver_harness.h"
#include "fuzz/driver_steps.h"
#include "fuzz/fuzz_check.h"

namespace {

using emio_fuzz::Harness;

constexpr emio::BackendChoice backends[] = {emio::BackendChoice::epoll, emio::BackendChoice::uring,
                                            emio::BackendChoice::kqueue};
constexpr int backend_count = sizeof backends / sizeof backends[0];

// Allocations on the thread that runs an input, while it runs; the first prints where it was made. Only
// that thread: the driver starts none, while libFuzzer's own (its RSS watcher) may start during the first
// inputs, and ASan's set-up of a new thread allocates there (pthread_getattr_np), which a fork-mode run
// reported as the driver's.
thread_local bool running_input = false;
std::atomic<uint64_t> input_allocations{0};

void on_malloc(const volatile void*, size_t size) {
  if (!running_input || input_allocations.fetch_add(1) > 0) return;
  std::fprintf(stderr, "an allocation of %zu bytes inside an input:\n", size);
  __sanitizer_print_stack_trace();
}
void on_free(const volatile void*) {}

// One driver per backend for the whole run: making one per input would spend the run in io_uring_setup.
emio::Driver* driver_for(int backend) {
  static emio::Driver drivers[backend_count];
  static emio::DriverStorage<emio_fuzz::driver_capacity, 16> storage[backend_count];
  static bool initialised[backend_count] = {};
  if (!initialised[backend]) {
    emio::DriverConfig config = storage[backend].config();
    config.backend = backends[backend];
    config.operation_capacity = emio_fuzz::operation_capacity;
    FUZZ_CHECK(drivers[backend].init(config).ok(), "driver init failed");
    initialised[backend] = true;
  }
  return &drivers[backend];
}

// The driver whose input runs, for the failure report.
emio::Driver* running_driver = nullptr;
emio_fuzz::StepTrace* running_trace = nullptr;

void report_steps() { running_trace->print(running_driver->backend_name()); }

void run_input(emio::Driver& driver, emio_fuzz::StepTrace& trace, const uint8_t* data, size_t size) {
  static Harness harness;
  static uint64_t inputs_run = 0;
  harness = Harness{};
  harness.driver = &driver;
  harness.trace = &trace;
  running_driver = &driver;
  running_trace = &trace;
  emio_fuzz::report_failure = report_steps;
  trace.record(emio_fuzz::Step::input_begins, -1, static_cast<int>(size), static_cast<int32_t>(inputs_run++));
  for (int channel = 0; channel < emio_fuzz::channel_count; ++channel) emio_fuzz::open_channel(harness, channel);
  emio_fuzz::open_operations(harness);
  input_allocations = 0;
  running_input = true;
  FuzzedDataProvider input(data, size);
  for (int step = 0; step < emio_fuzz::max_steps && input.remaining_bytes() > 0; ++step) {
    emio_fuzz::run_step(harness, input);
    emio_fuzz::check_after_step(harness);
  }
  emio_fuzz::finish_input(harness);
  running_input = false;
  FUZZ_CHECK(input_allocations == 0, "the driver allocated after init");
  emio_fuzz::report_failure = nullptr;
  harness = Harness{};  // closes every fd
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static emio_fuzz::StepTrace traces[backend_count];
  for (int backend = 0; backend < backend_count; ++backend) {
    if (!emio::backend_choice_compiled_in(backends[backend])) continue;
    run_input(*driver_for(backend), traces[backend], data, size);
  }
  return 0;
}
