// SPDX-License-Identifier: MIT
// The io_uring turn's edges: the busy-poll turn (submit first, spin within the turn's timeout), options
// the kernel would refuse (EINVAL from init, io_uring left on for everyone else), shutdown of a SQPOLL
// driver whose submission queue is full, and provided buffers over many ends of stream.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "operations/operation_support.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

using emio::Operation;
using emio::OpSource;
using emio_test::CompletionLog;

namespace {

constexpr uint64_t busy_poll_budget_us = 300'000;  // far above the turn's timeouts below

emio::DriverConfig busy_config() {
  emio::DriverConfig config = emio_test::uring_config(emio::BackendChoice::uring, 8, 8);
  config.operation_capacity = 8;
  config.uring.busy_poll_budget_us = busy_poll_budget_us;
  return config;
}

}  // namespace

TEST_GROUP(UringTurn) {
  emio::Driver driver;
  void setup() override { SKIP_WITHOUT_URING(); }
};

TEST(UringTurn, BusyPollTurnSpinsNoLongerThanItsTimeout) {
  CHECK_OK(driver.init(busy_config()));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  const uint64_t start_ms = emio::monotonic_now_ms();
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(1)));
  CHECK(emio::monotonic_now_ms() - start_ms < 100);  // the budget is 300 ms; the turn asked for 1 ms
}

TEST(UringTurn, BusyPollTurnSubmitsBeforeItSpins) {
  CHECK_OK(driver.init(busy_config()));
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  CHECK_EQUAL(4, ::write(pair.second.get(), "spin", 4));  // the recv completes as soon as it is issued
  char buffer[8] = {};
  Operation recv;
  CompletionLog done{&recv};
  emio::prepare_recv(recv, source, emio_test::bytes_of(buffer, sizeof buffer), done.waker());
  CHECK_OK(driver.submit(recv));
  const uint64_t start_ms = emio::monotonic_now_ms();
  (void)REQUIRE_VALUE(driver.turn(1000));
  const uint64_t elapsed_ms = emio::monotonic_now_ms() - start_ms;
  CHECK_EQUAL(1, done.calls);
  CHECK_EQUAL(4, recv.result);
  CHECK(elapsed_ms < 100);  // not the 300 ms spin before the submission left
  CHECK_OK(driver.detach(source));
}

TEST(UringTurn, InvalidRingSizesFailInitWithEinvalAndLeaveIoUringOnForTheProcess) {
  CHECK_EQUAL(0, emio_test::in_child([] {
                for (const uint32_t entries : {0u, 3u, 65536u}) {
                  emio::Driver refused;
                  emio::DriverConfig config = emio_test::uring_config(emio::BackendChoice::automatic, 4, 4);
                  config.uring.sq_entries = entries;
                  if (refused.init(config) != emio::Error::from_errno(EINVAL)) return 1;
                }
                emio::Driver bad_cpu;
                emio::DriverConfig config = emio_test::uring_config(emio::BackendChoice::uring_sqpoll, 4, 4);
                config.uring.sqpoll_cpu = 1 << 20;
                if (bad_cpu.init(config) != emio::Error::from_errno(EINVAL)) return 2;
                emio::Driver fine;
                if (fine.init(emio_test::uring_config(emio::BackendChoice::uring, 4, 4)).failed()) return 3;
                return std::string_view(fine.backend_name()) == "uring" ? 0 : 4;
              }));
}

TEST(UringTurn, SqpollShutdownWithAFullSubmissionQueueCompletesEveryOperationPromptly) {
  constexpr int count = 8;
  emio::DriverConfig config = emio_test::uring_config(emio::BackendChoice::uring_sqpoll, 16, 16);
  config.uring.sq_entries = 4;  // a CQ of 8: room for every completion
  config.operation_capacity = count;
  CHECK_OK(driver.init(config));
  STRCMP_EQUAL("uring-sqpoll", driver.backend_name());
  emio_test::FdPair pairs[count];
  OpSource sources[count];
  Operation recvs[count];
  CompletionLog logs[count];
  char buffers[count][8];
  for (int i = 0; i < count; ++i) {
    pairs[i] = emio_test::make_socketpair(SOCK_STREAM);
    CHECK_OK(driver.attach(sources[i], pairs[i].first.get()));
    logs[i].op = &recvs[i];
    emio::prepare_recv(recvs[i], sources[i], emio_test::bytes_of(buffers[i], sizeof buffers[i]), logs[i].waker());
  }
  for (int i = 0; i < count / 2; ++i) CHECK_OK(driver.submit(recvs[i]));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));                             // these reach the kernel thread
  for (int i = count / 2; i < count; ++i) CHECK_OK(driver.submit(recvs[i]));  // these fill the SQ
  const uint64_t start_ms = emio::monotonic_now_ms();
  driver.shutdown();
  CHECK(emio::monotonic_now_ms() - start_ms < 2000);  // not the 10 s give-up
  CHECK_EQUAL(0u, driver.operations_in_flight());
  for (const CompletionLog& log : logs) {
    CHECK_EQUAL(1, log.calls);
    CHECK_EQUAL(-ECANCELED, log.last_result);
  }
}

TEST(UringTurn, ProvidedBuffersOutlastManyEndsOfStream) {
  // Every CQE that took a buffer gives it back, whatever its result: 12 streams through 8 buffers.
  emio::DriverConfig config = emio_test::uring_config(emio::BackendChoice::uring, 8, 8);
  config.operation_capacity = 8;
  config.receive_buffers = {8, 64};
  CHECK_OK(driver.init(config));
  for (int stream = 0; stream < 12; ++stream) {
    auto pair = emio_test::make_socketpair(SOCK_STREAM);
    OpSource source;
    CHECK_OK(driver.attach(source, pair.first.get()));
    Operation recv;
    CompletionLog log{&recv};
    emio::prepare_recv_multishot(recv, source, log.waker());
    CHECK_OK(driver.submit(recv));
    CHECK_EQUAL(2, ::write(pair.second.get(), "ab", 2));
    pair.second.reset();
    CHECK(emio_test::turn_until(driver, [&] { return log.calls > 0 && !log.more; }));
    CHECK_EQUAL(0, log.last_result);
    CHECK_EQUAL(2u, log.received_bytes);
    CHECK_OK(driver.detach(source));
  }
}

#endif
