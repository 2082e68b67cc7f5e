// SPDX-License-Identifier: MIT
// IoWatch: callback-style readiness, called from the ready queue, once per arm.
#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

namespace {

struct Calls {
  int count = 0;
  emio::ReadyEvent last;
  static void on_ready(void* context, emio::ReadyEvent event) {
    auto* calls = static_cast<Calls*>(context);
    calls->count += 1;
    calls->last = event;
  }
};

}  // namespace

TEST_GROUP_BASE(IoWatch, emio_test::PipeReaderGroup) {
  emio::IoWatch watch;
  Calls calls;
  void teardown() override { watch.disarm(); }
  void arm() { CHECK_OK(watch.arm(executor, source.registration(), emio::Direction::read, &Calls::on_ready, &calls)); }
};

TEST(IoWatch, CallbackRunsOnceTheSourceIsReadable) {
  arm();
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(0, calls.count);
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_OK(executor.run_once(10000));
  CHECK_EQUAL(1, calls.count);
  CHECK(calls.last.ready.is_readable());
}

TEST(IoWatch, CallbackRunsFromTheReadyQueueNotInsideTheTurn) {
  arm();
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(REQUIRE_VALUE(executor.driver().turn(10000)) > 0);
  CHECK_EQUAL(0, calls.count);
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(1, calls.count);
}

TEST(IoWatch, CallbackRunsOncePerArm) {
  arm();
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_OK(executor.run_once(10000));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_OK(executor.run_once(0));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(1, calls.count);
  CHECK_FALSE(watch.armed());
}

TEST(IoWatch, ArmingWhileReadyCallsBackAtTheNextIteration) {
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_OK(executor.run_once(0));  // the readiness is recorded; nobody is watching yet
  arm();
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(1, calls.count);
}

TEST(IoWatch, DisarmedWatchIsNotCalled) {
  arm();
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(REQUIRE_VALUE(executor.driver().turn(10000)) > 0);  // queued
  watch.disarm();
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(0, calls.count);
}

TEST(IoWatch, ArmingARemovedRegistrationIsStale) {
  const emio::Registration removed = source.registration();
  CHECK_OK(source.close());
  CHECK_ERROR(emio::Error::stale_token, watch.arm(executor, removed, emio::Direction::read, &Calls::on_ready, &calls));
}
