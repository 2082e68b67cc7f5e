// SPDX-License-Identifier: MIT
// The echo traffic under each fault schedule, on every backend compiled in (support/main.cc): every byte
// checked, nothing leaked (registrations, tasks, frames, operations, fds), and the same server serves a
// clean round once the faults stop. A failure names its seed; EMIO_FAULT_SEED=N replays it.
#include <cerrno>

#include "emio/port/clock.h"
#include "emio/runtime/runtime.h"
#include "fault/echo_traffic.h"
#include "fault/fault_layer.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;
using emio_fault::Schedule;
using emio_fault_test::EchoRound;

namespace {

constexpr uint64_t default_seed = 20261202;
constexpr uint32_t round_deadline_ms = 20000;

struct Counts {
  uint32_t registrations, tasks, frames, operations;
  int fds;
  bool operator==(const Counts&) const = default;
};

Counts counts_of(emio::Executor& executor) {
  return Counts{executor.driver().live_registrations(), executor.live_tasks(), executor.frame_pool().frames_in_use(),
                executor.driver().operations_in_flight(), emio_test::settled_fd_count()};
}

SimpleString describe(const char* what, uint64_t seed) {
  return StringFromFormat("%s (seed %llu: EMIO_FAULT_SEED=%llu replays it)", what, (unsigned long long)seed,
                          (unsigned long long)seed);
}

}  // namespace

TEST_GROUP(FaultEcho) {
  emio::Executor executor;
  emio_fault_test::EchoServer server;
  emio::SocketAddress address;
  uint64_t seed = emio_fault::seed_from_environment(default_seed);

  void setup() override { start(emio_test::executor_config(32, 32)); }
  void teardown() override { emio_fault::disarm(); }
  void start(emio::ExecutorConfig config) {
    config.frame_size_bytes = 4096;
    CHECK_OK(executor.init(config));
    server.executor = &executor;
    server.listener = REQUIRE_TAKE(emio::TcpListener::bind(executor.handle(), emio_test::loopback_any_port()));
    address = REQUIRE_VALUE(server.listener.local_address());
    CHECK_OK(emio_fault_test::start_echo_server(server));
    CHECK_OK(executor.run_once(0));  // the accept loop parks
  }
  // Runs `round` to its end (or the deadline), armed with `schedule` if given.
  void run_round(EchoRound & round, const Schedule* schedule) {
    CHECK_OK(emio_fault_test::start_clients(executor, address, round));
    if (schedule != nullptr) emio_fault::arm(*schedule, seed);
    const uint64_t give_up_ms = emio::monotonic_now_ms() + round_deadline_ms;
    emio::Error turned{};
    while (!emio_fault_test::round_finished(round) && turned.ok() && emio::monotonic_now_ms() < give_up_ms) {
      turned = executor.run_once(10);
    }
    emio_fault::disarm();
    CHECK_TEXT(turned.ok(), describe(turned.name(), seed).asCharString());
    CHECK_TEXT(emio_fault_test::round_finished(round), describe("the round did not finish", seed).asCharString());
    CHECK_TEXT(server.failure.ok(), describe(server.failure.name(), seed).asCharString());
    for (uint32_t i = 0; i < round.client_count; ++i) {
      const emio_fault_test::EchoClient& client = round.clients[i];
      CHECK_TEXT(client.failure.ok(), describe(client.failure.name(), seed).asCharString());
      CHECK_TEXT(client.wrong_bytes == 0, describe("an echoed byte differs", seed).asCharString());
      CHECK_TEXT(client.confirmed_bytes == round.bytes_per_client, describe("bytes missing", seed).asCharString());
    }
  }
  // Until the server's connection tasks ended and their fds closed.
  void settle(const Counts& expected) {
    for (int attempt = 0; attempt < 200 && counts_of(executor) != expected; ++attempt) CHECK_OK(executor.run_once(5));
  }
  // The whole check: a faulted round, no leak, then a clean round on the same server.
  uint64_t survive(const Schedule& schedule, uint32_t client_count = 4) {
    const Counts before = counts_of(executor);
    EchoRound faulted;
    faulted.client_count = client_count;
    run_round(faulted, &schedule);
    const uint64_t injected = emio_fault::injected();
    UT_PRINT(StringFromFormat("%s: %llu faults injected, %u reconnects of client 1", schedule.name,
                              (unsigned long long)injected, faulted.clients[0].reconnects));
    settle(before);
    const Counts after = counts_of(executor);
    CHECK_TEXT(after.registrations == before.registrations, describe("registrations leaked", seed).asCharString());
    CHECK_TEXT(after.tasks == before.tasks, describe("tasks leaked", seed).asCharString());
    CHECK_TEXT(after.frames == before.frames, describe("frames leaked", seed).asCharString());
    CHECK_TEXT(after.operations == before.operations, describe("operations leaked", seed).asCharString());
    CHECK_TEXT(after.fds == before.fds, describe("fds leaked", seed).asCharString());
    EchoRound clean;
    clean.client_count = client_count;
    run_round(clean, nullptr);
    return injected;
  }
};

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
  CHECK(server.accept_backoffs > 0);
}

TEST(FaultEcho, ResetsMidTransferAreSurvivedAndCleanedUp) {
  static constexpr Rule rules[] = {{Call::recv, Effect::reset, 0, 15, 1}, {Call::send, Effect::reset, 0, 15, 1}};
  static constexpr Schedule schedule{"resets", rules};
  CHECK(survive(schedule) > 0);
}

TEST(FaultEcho, UringSubmitRefusalsLoseNothing) {
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::fail, EAGAIN, 200, 2},
                                   {Call::uring_submit, Effect::fail, EBUSY, 100, 1}};
  static constexpr Schedule schedule{"io_uring submit refusals", rules};
  (void)survive(schedule);  // nothing to inject on epoll
}

TEST(FaultEcho, PollsTheKernelEndsWithoutMoreAreArmedAgain) {
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::end_poll, 0, 100, 1}};
  static constexpr Schedule schedule{"polls ended without F_MORE", rules};
  (void)survive(schedule);
}

TEST_GROUP_BASE(FaultEchoOverflow, TEST_GROUP_CppUTestGroupFaultEcho){
    void setup() override{emio::ExecutorConfig config = emio_test::executor_config(32, 32);
config.driver.uring.sq_entries = 2;    // a completion queue of 4 entries for 17 sources: it overflows
config.driver.operation_capacity = 4;  // what a ring that small can take (UringOverflow's set-up)
start(config);
}
}
;

TEST(FaultEchoOverflow, CompletionQueueOverflowLosesNothing) {
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::end_poll, 0, 30, 1}};
  static constexpr Schedule schedule{"cq overflow", rules};
  (void)survive(schedule, emio_fault_test::max_clients);
}

TEST_GROUP(FaultSetup){};

TEST(FaultSetup, UringSetUpOutOfMemoryFailsInitCleanlyAndTheNextInitSucceeds) {
  static constexpr Rule rules[] = {{Call::uring_setup, Effect::fail, ENOMEM, 1000, 1}};
  static constexpr Schedule schedule{"io_uring set-up ENOMEM", rules};
  const int fds_before = emio_test::settled_fd_count();
  {
    emio::Executor refused;
    emio_fault::arm(schedule, 1);
    const emio::Error outcome = refused.init(emio_test::executor_config());
    emio_fault::disarm();
    if (emio_test::current_backend == emio::BackendChoice::uring) CHECK_ERROR(emio::Error::from_errno(ENOMEM), outcome);
  }
  CHECK_EQUAL(fds_before, emio_test::settled_fd_count());
  emio::Executor next;
  CHECK_OK(next.init(emio_test::executor_config()));
}
