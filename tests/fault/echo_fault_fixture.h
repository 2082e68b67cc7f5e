// SPDX-License-Identifier: MIT
// The echo fault tests' fixture: an echo server on an executor, a round of clients under a schedule,
// and the check of what the round left behind. `examine` reports what it found; the fault tests require
// nothing, the harness tests their planted defect.
#pragma once

#include <CppUTest/TestHarness.h>

#include "emio/runtime/runtime.h"
#include "fault/echo_traffic.h"
#include "fault/fault_layer.h"
#include "fault/findings.h"

namespace emio_fault_test {

constexpr uint64_t default_seed = 20261202;

// What an executor holds that a round must give back.
struct Counts {
  uint32_t registrations, tasks, frames, operations;
  int fds;
  bool operator==(const Counts&) const = default;
};

struct Outcome {
  Findings findings;
  uint64_t injected = 0;
};

class EchoFaultFixture : public Utest {
 public:
  void setup() override;
  void teardown() override;

 protected:
  void start(emio::ExecutorConfig config);
  // A faulted round (`schedule` armed while it runs), the leak check, then a clean round on the same
  // server.
  Outcome examine(const emio_fault::Schedule& schedule, uint32_t client_count = 4);
  // examine, requiring that nothing was found; the faults injected.
  uint64_t survive(const emio_fault::Schedule& schedule, uint32_t client_count = 4);

  // Declared before the executor: client tasks still parked when a harness test ends refer to them.
  EchoRound faulted_round_;
  EchoRound clean_round_;
  emio::Executor executor_;
  EchoServer server_;
  emio::SocketAddress address_;
  uint64_t seed_ = emio_fault::seed_from_environment(default_seed);
  uint32_t round_deadline_ms_ = 20000;

 private:
  Counts counts();
  Findings run_round(EchoRound& round, const emio_fault::Schedule* schedule);
  void settle(const Counts& expected);
};

}  // namespace emio_fault_test
