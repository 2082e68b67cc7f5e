// SPDX-License-Identifier: MIT
// The echo traffic under each fault schedule, on every backend compiled in (support/main.cc): every byte
// checked, nothing leaked (registrations, tasks, frames, operations, fds), and the same server serves a
// clean round once the faults stop. A failure names its seed; EMIO_FAULT_SEED=N replays it.
#include <cerrno>

#include "fault/echo_fault_fixture.h"
#include "fault/uring_only.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "uring/uring_support.h"

using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;
using emio_fault::Schedule;

TEST_GROUP_BASE(FaultEcho, emio_fault_test::EchoFaultFixture){};

TEST(FaultEcho, EintrStormsOnEveryBlockingCallLoseNothing) {
  static constexpr Rule rules[] = {
      {Call::wait, Effect::fail, EINTR, 200, 8},  {Call::uring_submit, Effect::fail, EINTR, 200, 8},
      {Call::recv, Effect::fail, EINTR, 150, 4},  {Call::send, Effect::fail, EINTR, 150, 4},
      {Call::read, Effect::fail, EINTR, 150, 4},  {Call::write, Effect::fail, EINTR, 150, 4},
      {Call::accept, Effect::fail, EINTR, 200, 4}};
  static constexpr Schedule schedule{"eintr storms", rules};
  CHECK(survive(schedule) > 0);
}

TEST(FaultEcho, EagainAndShortTransfersOnSocketsLoseNothing) {
  static constexpr Rule rules[] = {{Call::recv, Effect::fail, EAGAIN, 150, 1},
                                   {Call::recv, Effect::short_transfer, 0, 250, 1},
                                   {Call::send, Effect::fail, EAGAIN, 150, 1},
                                   {Call::send, Effect::short_transfer, 0, 250, 1}};
  static constexpr Schedule schedule{"eagain and short transfers", rules};
  CHECK(survive(schedule) > 0);
}

TEST(FaultEcho, FdExhaustionOnAcceptAndSocketIsWaitedOut) {
  static constexpr Rule rules[] = {{Call::accept, Effect::fail, EMFILE, 300, 2},
                                   {Call::accept, Effect::fail, ENFILE, 100, 1},
                                   {Call::socket, Effect::fail, EMFILE, 200, 1},
                                   {Call::socket, Effect::fail, ENFILE, 100, 1}};
  static constexpr Schedule schedule{"fd exhaustion", rules};
  CHECK(survive(schedule) > 0);
  CHECK(server_.accept_backoffs > 0);
}

TEST(FaultEcho, ResetsMidTransferAreSurvivedAndCleanedUp) {
  static constexpr Rule rules[] = {{Call::recv, Effect::reset, 0, 15, 1}, {Call::send, Effect::reset, 0, 15, 1}};
  static constexpr Schedule schedule{"resets", rules};
  CHECK(survive(schedule) > 0);
}

TEST(FaultEcho, UringSubmitRefusalsLoseNothing) {
  emio_fault_test::skip_unless_uring_runs(executor_.driver());
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::fail, EAGAIN, 200, 2},
                                   {Call::uring_submit, Effect::fail, EBUSY, 100, 1}};
  static constexpr Schedule schedule{"io_uring submit refusals", rules};
  CHECK(survive(schedule) > 0);
}

TEST(FaultEcho, PollsTheKernelEndsWithoutMoreAreArmedAgain) {
  emio_fault_test::skip_unless_uring_runs(executor_.driver());
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::end_poll, 0, 100, 1}};
  static constexpr Schedule schedule{"polls ended without F_MORE", rules};
  CHECK(survive(schedule) > 0);
}

TEST_GROUP_BASE(FaultEchoOverflow, emio_fault_test::EchoFaultFixture){
    void setup() override{emio::ExecutorConfig config = emio_test::executor_config(32, 32);
config.driver.uring.sq_entries = 2;    // a completion queue of 4 entries for 17 sources
config.driver.operation_capacity = 4;  // what a ring that small can take (UringOverflow's set-up)
start(config);
}
}
;

TEST(FaultEchoOverflow, CompletionQueueOverflowLosesNothing) {
  emio_fault_test::skip_unless_uring_runs(executor_.driver());
  // Eight clients' connections and the listener on a 4-entry CQ ring: the polls' completions between two
  // reaps do not fit, the kernel keeps the rest (FEAT_NODROP, IORING_SQ_CQ_OVERFLOW) and ends the
  // multishot polls that overflowed, without IORING_CQE_F_MORE; some more polls end on purpose.
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::end_poll, 0, 30, 1}};
  static constexpr Schedule schedule{"cq overflow", rules};
  (void)survive(schedule, emio_fault_test::max_clients);
  UT_PRINT(StringFromFormat("%llu enters found the CQ overflowed",
                            static_cast<unsigned long long>(emio_fault::cq_overflows_seen())));
  CHECK(emio_fault::cq_overflows_seen() > 0);
}

TEST_GROUP(FaultSetup){void teardown() override{emio_fault::disarm();
}
// An io_uring set-up failing with `error`: init fails with it and takes nothing; the next init works.
void check_setup_refused_with(int error) {
  if (emio_test::current_backend != emio::BackendChoice::uring || !emio_test::uring_runs_here()) {
    UT_PRINT("skipped: an io_uring set-up fault, and io_uring does not run in this pass");
    TEST_EXIT;
  }
  const Rule rules[] = {{Call::uring_setup, Effect::fail, error, 1000, 1}};
  const Schedule schedule{"io_uring set-up refused", rules};
  const int fds_before = emio_test::settled_fd_count();
  {
    emio::Executor refused;
    emio_fault::arm(schedule, 1);
    const emio::Error outcome = refused.init(emio_test::executor_config());
    emio_fault::disarm();
    CHECK_ERROR(emio::Error::from_errno(error), outcome);
  }
  CHECK_EQUAL(fds_before, emio_test::settled_fd_count());
  emio::Executor next;
  CHECK_OK(next.init(emio_test::executor_config()));
}
}
;

TEST(FaultSetup, UringSetUpOutOfMemoryFailsInitCleanlyAndTheNextInitSucceeds) { check_setup_refused_with(ENOMEM); }

TEST(FaultSetup, UringSetUpEagainFailsInitCleanlyAndTheNextInitSucceeds) { check_setup_refused_with(EAGAIN); }
