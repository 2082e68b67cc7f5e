// SPDX-License-Identifier: MIT
// Runs every test group once per backend compiled in: epoll, and io_uring in an io_uring build; kqueue
// alone in a kqueue build, IOCP alone in a Windows build. EMIO_TEST_BACKEND=epoll|uring|kqueue runs one
// of them only.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "emio/config.h"
#include "support/allocation_counter.h"
#include "support/driver_fixture.h"
#include "support/sanitizers.h"

namespace {

// Which backend a driver asking for `choice` really runs here (io_uring may be refused, e.g. under qemu).
const char* backend_run_for(emio::BackendChoice choice) {
  emio::Driver driver;
  emio::DriverConfig config = emio_test::driver_config(1, 1);
  config.backend = choice;
  return driver.init(config).ok() ? driver.backend_name() : "none (init failed)";
}

// A sim build's schedule comes from one seed: every run says it, and a failed run says how to replay it.
void report_sim_seed(int failures) {
#if defined(EMIO_BACKEND_SIM)
  const auto seed = static_cast<unsigned long long>(emio::sim_seed());
  if (failures == 0) std::printf("=== sim seed %llu\n", seed);
  if (failures != 0) std::printf("=== sim seed %llu: FAILED; EMIO_SIM_SEED=%llu replays this run\n", seed, seed);
#else
  (void)failures;
#endif
}

}  // namespace

int main(int argc, char** argv) {
#if defined(SIGPIPE)  // Windows has none
  // Tests close sockets whose peers may still write; a SIGPIPE must not end the run.
  (void)std::signal(SIGPIPE, SIG_IGN);
#endif
#if defined(EMIO_TEST_SANITIZED)
  // The TSan build links TSan's operator new/delete over CppUTest's (see docs/design.md, Testing): the
  // leak detector would see allocations but no frees. The sanitizers check leaks themselves.
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
#else
  MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
#endif
  emio_test::install_allocation_counter();

  const emio::BackendChoice backends[] = {emio::BackendChoice::epoll, emio::BackendChoice::uring,
                                          emio::BackendChoice::kqueue, emio::BackendChoice::iocp};
  const char* only = std::getenv("EMIO_TEST_BACKEND");
  int failures = 0;
  for (const emio::BackendChoice backend : backends) {
    if (!emio::backend_choice_compiled_in(backend)) continue;
    emio::BackendChoice wanted{};
    if (only != nullptr && emio::parse_backend_choice(only, wanted).ok() && wanted != backend) continue;
    emio_test::current_backend = backend;
    // Probing first also makes the probe's one-time set-up happen outside every test's leak check.
    std::printf("=== backend %s (runs %s)\n", emio::backend_choice_name(backend), backend_run_for(backend));
    failures += CommandLineTestRunner::RunAllTests(argc, argv);
  }
  report_sim_seed(failures);
  return failures;
}
