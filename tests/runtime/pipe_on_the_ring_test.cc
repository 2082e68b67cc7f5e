// SPDX-License-Identifier: MIT
// A pipe's ends on completion operations (native_stream.h, ByteTransfer::file): with native streams
// configured, on io_uring, their awaited reads and writes go through the ring (read_leased and write,
// offset -1) instead of readiness; on epoll through readiness. The same user code and the same behaviour
// either way: bytes in order, end of stream, a read abandoned by a timeout losing nothing, a closed end
// keeping its fd until the kernel let go of its record.
#include <fcntl.h>

#include <cstring>
#include <optional>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::ByteStream;
using emio::Error;
using emio::Pipe;
using emio::Result;

namespace {

constexpr uint32_t buffer_bytes = 64;  // small: write_all of a few hundred bytes takes several writes

emio::ExecutorConfig native_config() {
  emio::ExecutorConfig config = emio_test::executor_config(8);
  config.native_streams = {4, buffer_bytes};
  return config;
}

emio::Task<> read_once(ByteStream& end, std::span<std::byte> buffer, std::optional<Result<size_t>>& outcome) {
  outcome.emplace(co_await end.read(buffer));
}

emio::Task<> read_with_timeout(ByteStream& end, uint32_t timeout_ms, std::optional<Result<size_t>>& outcome) {
  std::byte buffer[16];
  outcome.emplace(co_await emio::with_timeout(timeout_ms, end.read(buffer)));
}

emio::Task<> write_all(ByteStream& end, std::span<const std::byte> data, std::optional<Result<size_t>>& outcome) {
  outcome.emplace(co_await end.write_all(data));
}

// Reads until `into` is full.
emio::Task<> read_all(ByteStream& end, std::span<std::byte> into, Error& outcome) {
  for (size_t done = 0; done < into.size();) {
    Result<size_t> got = co_await end.read(into.subspan(done));
    if (!got.ok() || got.value() == 0) {
      outcome = got.ok() ? Error::from_errno(EPIPE) : got.error();
      co_return;
    }
    done += got.value();
  }
  outcome = Error{};
}

}  // namespace

TEST_GROUP(PipeOnTheRing) {
  emio::Executor executor;
  Pipe pipe;
  void setup() override {
    CHECK_OK(executor.init(native_config()));
    pipe = REQUIRE_TAKE(Pipe::open(executor.handle()));
  }
  bool on_the_ring() { return executor.driver().takes_leased_receives(); }
  // Up to 4 s: a closed end's last write may linger for 2 s.
  void run_until_records_free() {
    for (int round = 0; round < 400 && executor.native_streams().in_use() > 0; ++round) {
      CHECK_OK(executor.run_once(10));
    }
  }
};

TEST(PipeOnTheRing, AwaitedReadAndWriteGoThroughTheRing) {
  std::byte sent[buffer_bytes * 3 + 5];  // several writes of the send buffer's size
  for (size_t i = 0; i < sizeof sent; ++i) sent[i] = static_cast<std::byte>(i * 7 + 3);
  std::byte received[sizeof sent] = {};
  std::optional<Result<size_t>> written;
  Error outcome = Error::shut_down;
  CHECK(executor.spawn(write_all(pipe.write_end, sent, written)).ok());
  Result<emio::TaskId> reader = executor.spawn(read_all(pipe.read_end, received, outcome));
  emio_test::run_to_completion(executor, reader);
  CHECK_OK(outcome);
  CHECK_EQUAL(sizeof sent, REQUIRE_VALUE(*written));
  MEMCMP_EQUAL(sent, received, sizeof sent);
  // On the ring both ends hold a record and their readiness registrations are gone: a readiness await
  // would have ended with stale_token, so the bytes came through the ring.
  CHECK_EQUAL(on_the_ring() ? 2u : 0u, executor.native_streams().in_use());
  CHECK_EQUAL(!on_the_ring(), pipe.read_end.registration().io != nullptr);
  CHECK_EQUAL(!on_the_ring(), pipe.write_end.registration().io != nullptr);
}

TEST(PipeOnTheRing, ClosedWriteEndReadsAsEndOfStream) {
  CHECK_OK(pipe.write_end.close());
  std::byte buffer[8];
  std::optional<Result<size_t>> got;
  Result<emio::TaskId> task = executor.spawn(read_once(pipe.read_end, buffer, got));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(0u, REQUIRE_VALUE(*got));
}

TEST(PipeOnTheRing, ReadAbandonedByATimeoutLosesNoBytes) {
  std::optional<Result<size_t>> abandoned;
  Result<emio::TaskId> first = executor.spawn(read_with_timeout(pipe.read_end, 20, abandoned));
  emio_test::run_to_completion(executor, first);
  CHECK_ERROR(emio::timed_out, abandoned->error());
  CHECK_EQUAL(4u, REQUIRE_VALUE(pipe.write_end.try_write(emio_test::bytes_of("late"))));
  char received[16] = {};
  std::optional<Result<size_t>> next;
  Result<emio::TaskId> second =
      executor.spawn(read_once(pipe.read_end, std::as_writable_bytes(std::span(received)), next));
  emio_test::run_to_completion(executor, second);
  CHECK_EQUAL(4u, REQUIRE_VALUE(*next));
  STRCMP_EQUAL("late", received);
}

TEST(PipeOnTheRing, ReadEndClosedWithAReadInFlightKeepsItsFdUntilTheReadIsCancelled) {
  std::optional<Result<size_t>> abandoned;
  Result<emio::TaskId> task = executor.spawn(read_with_timeout(pipe.read_end, 10, abandoned));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(on_the_ring() ? 1u : 0u, executor.driver().operations_in_flight());  // the abandoned read
  const int fd = pipe.read_end.fd();
  CHECK_OK(pipe.read_end.close());
  if (on_the_ring()) CHECK(::fcntl(fd, F_GETFD) != -1);  // the kernel may still name it
  run_until_records_free();
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
  CHECK_EQUAL(-1, ::fcntl(fd, F_GETFD));
}
