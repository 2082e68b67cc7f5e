// SPDX-License-Identifier: MIT
// The bridge traffic (bridge_fault_fixture.h) under each fault schedule, on every backend compiled in.
#include <cerrno>

#include "fault/bridge_fault_fixture.h"
#include "fault/uring_only.h"

using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;
using emio_fault::Schedule;

TEST_GROUP_BASE(FaultBridge, emio_fault_test::BridgeFaultFixture){};

TEST(FaultBridge, EintrStormsOnPipesAndSocketsLoseNothing) {
  static constexpr Rule rules[] = {
      {Call::read, Effect::fail, EINTR, 200, 6}, {Call::write, Effect::fail, EINTR, 200, 6},
      {Call::recv, Effect::fail, EINTR, 150, 4}, {Call::send, Effect::fail, EINTR, 150, 4},
      {Call::wait, Effect::fail, EINTR, 200, 8}, {Call::uring_submit, Effect::fail, EINTR, 200, 8}};
  static constexpr Schedule schedule{"bridge eintr storms", rules};
  survive(schedule);
  CHECK(injected_ > 0);
}

TEST(FaultBridge, EagainAndShortTransfersOnTheLinkLoseNothing) {
  static constexpr Rule rules[] = {{Call::recv, Effect::fail, EAGAIN, 150, 1},
                                   {Call::recv, Effect::short_transfer, 0, 250, 1},
                                   {Call::send, Effect::fail, EAGAIN, 150, 1},
                                   {Call::send, Effect::short_transfer, 0, 250, 1}};
  static constexpr Schedule schedule{"bridge eagain and short transfers", rules};
  survive(schedule);
  CHECK(injected_ > 0);
}

TEST(FaultBridge, PollsTheKernelEndsAndSubmitRefusalsLoseNothing) {
  emio_fault_test::skip_unless_uring_runs(executor_.driver());
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::end_poll, 0, 100, 1},
                                   {Call::uring_submit, Effect::fail, EAGAIN, 150, 2}};
  static constexpr Schedule schedule{"bridge io_uring faults", rules};
  // No count required: the bridge's run is a handful of enters, and with some seeds (1, 5) none draws a
  // fault; the echo tests require theirs.
  survive(schedule);
}
