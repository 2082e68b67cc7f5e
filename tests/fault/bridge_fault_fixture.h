// SPDX-License-Identifier: MIT
// Bridge traffic under faults, in process: a feeder writes into a pipe (the UART's side), the bridge
// pumps it over a loopback TCP connection and back out into a second pipe, and a checker reads every
// byte there, then the end of stream (nothing duplicated after the last byte). Counts are compared once
// it is all closed, and a clean run follows.
#pragma once

#include <CppUTest/TestHarness.h>

#include "emio/runtime/runtime.h"
#include "fault/fault_layer.h"
#include "fault/findings.h"

namespace emio_fault_test {

struct Bridge {
  emio::Pipe uart_in;        // feeder -> bridge
  emio::Pipe uart_out;       // bridge -> checker
  emio::TcpStream uplink;    // the bridge's client side
  emio::TcpStream downlink;  // the accepted side
  uint32_t checked_bytes = 0;
  uint32_t wrong_bytes = 0;
  bool ended = false;  // the checker saw the end of stream
  emio::Error failure{};
  // A defect planted for the harness tests: where the pump keeps the uplink once it is done with it,
  // instead of closing it (its registration and fd leak); null: closed.
  emio::TcpStream* keep_uplink_in = nullptr;
};

class BridgeFaultFixture : public Utest {
 public:
  void setup() override;
  void teardown() override;

 protected:
  // A run with `schedule` armed, the leak check, then a run without faults.
  Findings examine(const emio_fault::Schedule& schedule);
  // examine, requiring that nothing was found.
  void survive(const emio_fault::Schedule& schedule);

  emio::Executor executor_;
  emio::TcpListener listener_;
  // After the executor: closed before it goes. The runs' own, so that tasks a failed run left parked
  // never refer to freed ones.
  Bridge faulted_bridge_;
  Bridge clean_bridge_;
  emio::TcpStream kept_uplink_;
  bool plant_kept_uplink_ = false;
  uint64_t seed_ = emio_fault::seed_from_environment(20261202);
  uint64_t injected_ = 0;

 private:
  void open(Bridge& bridge);
  Findings run_bridge(Bridge& bridge, const emio_fault::Schedule* schedule);
};

}  // namespace emio_fault_test
