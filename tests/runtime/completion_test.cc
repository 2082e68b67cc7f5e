// SPDX-License-Identifier: MIT
// Awaiting completion operations (driver/operation.h) from coroutines, on every backend: epoll carries
// them out with readiness, io_uring natively.
#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Error;
using emio::Operation;
using emio::Result;

namespace {

emio::Task<> await_operation(Operation& operation, Error& error, uint32_t& value) {
  Result<uint32_t> outcome = co_await emio::complete(operation);
  error = outcome.ok() ? Error{} : outcome.error();
  value = outcome.ok() ? outcome.value() : 0;
}

// Records, when the coroutine frame is destroyed, whether the operation in that frame was still in flight
// (the kernel or the epoll engine would then write into freed memory).
struct InFlightProbe {
  const Operation* operation;
  bool* destroyed_in_flight;
  ~InFlightProbe() { *destroyed_in_flight = operation->in_flight(); }
};

emio::Task<> recv_in_own_frame(emio::OpSource& source, bool& destroyed_in_flight) {
  char buffer[8];
  Operation recv;
  InFlightProbe probe{&recv, &destroyed_in_flight};  // destroyed before `recv`
  emio::prepare_recv(recv, source, std::as_writable_bytes(std::span(buffer)), emio::Waker{});
  Result<uint32_t> outcome = co_await emio::complete(recv);
  (void)outcome;
}

}  // namespace

TEST_GROUP(Completion) {
  emio::Executor executor;
  emio_test::FdPair pair;
  emio::OpSource source;
  Error error = Error::shut_down;
  uint32_t value = 0;
  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(2)));
    pair = emio_test::make_socketpair(SOCK_STREAM);
    CHECK_OK(executor.driver().attach(source, pair.first.get()));
  }
  void teardown() override { CHECK_OK(executor.driver().detach(source)); }
  void await_operation_to_completion(Operation & operation) {
    Result<emio::TaskId> task = executor.spawn(await_operation(operation, error, value));
    emio_test::run_to_completion(executor, task);
  }
};

TEST(Completion, AwaitedRecvReturnsTheBytesReceived) {
  char buffer[8] = {};
  Operation recv;
  emio::prepare_recv(recv, source, std::as_writable_bytes(std::span(buffer, sizeof buffer - 1)), emio::Waker{});
  CHECK_EQUAL(5, emio_test::write_bytes(pair.second.get(), 5));
  await_operation_to_completion(recv);
  CHECK_OK(error);
  CHECK_EQUAL(5u, value);
}

TEST(Completion, AwaitedSendReachesThePeer) {
  Operation send;
  emio::prepare_send(send, source, emio_test::bytes_of("ping"), emio::Waker{});
  await_operation_to_completion(send);
  CHECK_OK(error);
  CHECK_EQUAL(4u, value);
  CHECK_EQUAL(4u, emio_test::drain(pair.second.get()));
}

TEST(Completion, AwaitedTimeoutCompletes) {
  Operation timeout;
  emio::prepare_timeout(timeout, 1000000, emio::Waker{});  // 1 ms
  await_operation_to_completion(timeout);
  CHECK_OK(error);
}

TEST(Completion, RecvAfterThePeerClosedReturnsEndOfStream) {
  char buffer[8];
  Operation recv;
  emio::prepare_recv(recv, source, std::as_writable_bytes(std::span(buffer)), emio::Waker{});
  pair.second.reset();
  await_operation_to_completion(recv);
  CHECK_OK(error);
  CHECK_EQUAL(0u, value);
}

TEST(Completion, MultishotOperationIsRefused) {
  Operation recv;
  emio::prepare_recv_multishot(recv, source, emio::Waker{});
  await_operation_to_completion(recv);
  CHECK_ERROR(emio::Error::from_errno(EINVAL), error);
}

TEST(Completion, ExecutorTeardownCompletesAnOperationBeforeDestroyingItsFrame) {
  bool destroyed_in_flight = true;
  {
    auto scoped_pair = emio_test::make_socketpair(SOCK_STREAM);  // closed after `scoped` is gone
    emio::OpSource scoped_source;
    emio::Executor scoped;
    executor.frame_pool().uninstall();  // one installed pool per process: lend the slot to `scoped`
    CHECK_OK(scoped.init(emio_test::executor_config(2)));
    CHECK_OK(scoped.driver().attach(scoped_source, scoped_pair.first.get()));
    CHECK(scoped.spawn(recv_in_own_frame(scoped_source, destroyed_in_flight)).ok());
    CHECK_OK(scoped.run_once(0));  // the recv is in flight: nothing was sent
  }
  CHECK_FALSE(destroyed_in_flight);
  CHECK_OK(executor.frame_pool().install());
}
