// SPDX-License-Identifier: MIT
// The fault harness can fail: each test plants one defect (a wrapper that miscounts a transfer or leaks
// an fd, a server that keeps ended connections or stops serving once the faults stop) and requires
// that the check the fault tests rely on reports it. Deadlines are short: a planted defect may stall
// the traffic, and the stall is the finding; the control run without a defect keeps the long one.
#include <cerrno>

#include "fault/bridge_fault_fixture.h"
#include "fault/echo_fault_fixture.h"

using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;
using emio_fault::Schedule;
using emio_fault_test::Finding;
using emio_fault_test::Outcome;
using emio_fault_test::ServerDefect;

namespace {

// Twice a round's time under ASan on 2 busy cores: only the defect that loses a byte stalls.
constexpr uint32_t stalled_round_deadline_ms = 3000;

constexpr Rule eintr_on_reads[] = {{Call::recv, Effect::fail, EINTR, 100, 1}};
constexpr Schedule mild_faults{"eintr on reads", eintr_on_reads};
constexpr Rule undercounted_receives[] = {{Call::recv, Effect::planted_undercount, 0, 100, 1}};
constexpr Schedule receive_loses_a_byte{"planted: recv loses a byte", undercounted_receives};
constexpr Rule undercounted_sends[] = {{Call::send, Effect::planted_undercount, 0, 100, 1}};
constexpr Schedule send_repeats_a_byte{"planted: send repeats a byte", undercounted_sends};

}  // namespace

TEST_GROUP_BASE(FaultHarnessEcho, emio_fault_test::EchoFaultFixture){
    // `schedule` injected at least once, `finding` reported. The control test keeps the long deadline.
    void check_reported(const Schedule& schedule, Finding finding){round_deadline_ms_ = stalled_round_deadline_ms;
const Outcome outcome = examine(schedule);
CHECK(outcome.injected > 0);
CHECK_FINDING(outcome.findings, finding, seed_);
}
}
;

TEST(FaultHarnessEcho, AReceiveThatLosesAByteIsReportedAsBytesMissing) {
  check_reported(receive_loses_a_byte, Finding::bytes_missing);
}

TEST(FaultHarnessEcho, ASendThatRepeatsAByteIsReportedAsADifferingByte) {
  check_reported(send_repeats_a_byte, Finding::bytes_differ);
}

TEST(FaultHarnessEcho, AnAcceptThatLeaksAnFdIsReported) {
  static constexpr Rule rules[] = {{Call::accept, Effect::planted_fd_leak, 0, 1000, 1}};
  static constexpr Schedule schedule{"planted: accept leaks an fd", rules};
  check_reported(schedule, Finding::fds_leaked);
}

TEST(FaultHarnessEcho, AServerThatKeepsEndedConnectionsIsReportedAsLeakingRegistrations) {
  server_.defect = ServerDefect::keeps_ended_connections;
  check_reported(mild_faults, Finding::registrations_leaked);
}

TEST(FaultHarnessEcho, AServerThatStopsServingOnceTheFaultsStopIsReported) {
  server_.defect = ServerDefect::stops_serving_after_faults;
  check_reported(mild_faults, Finding::stopped_serving);
}

TEST(FaultHarnessEcho, TheSameRunWithoutAPlantedDefectFindsNothing) { CHECK(survive(mild_faults) > 0); }

TEST_GROUP_BASE(FaultHarnessBridge,
                emio_fault_test::BridgeFaultFixture){void check_reported(const Schedule& schedule, Finding finding){
    const emio_fault_test::Findings found = examine(schedule);
CHECK(injected_ > 0);
CHECK_FINDING(found, finding, seed_);
}
}
;

TEST(FaultHarnessBridge, AReceiveThatLosesAByteIsReportedAsBytesMissing) {
  check_reported(receive_loses_a_byte, Finding::bytes_missing);
}

TEST(FaultHarnessBridge, ASendThatRepeatsAByteIsReportedAsBytesExtra) {
  check_reported(send_repeats_a_byte, Finding::bytes_extra);
}

TEST(FaultHarnessBridge, APumpThatKeepsItsConnectionIsReportedAsLeakingRegistrations) {
  plant_kept_uplink_ = true;
  check_reported(mild_faults, Finding::registrations_leaked);
}

TEST(FaultHarnessBridge, TheSameRunWithoutAPlantedDefectFindsNothing) {
  survive(mild_faults);
  CHECK(injected_ > 0);
}
