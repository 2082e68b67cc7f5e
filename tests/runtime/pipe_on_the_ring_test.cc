// SPDX-License-Identifier: MIT
// A pipe's ends on completion operations (native_stream.h, ByteTransfer::file): with native streams
// configured, on io_uring, their awaited reads and writes go through the ring (read_leased and write,
// offset -1) instead of readiness; on epoll through readiness. The same user code and the same behaviour
// either way: bytes in order, end of stream, a read abandoned by a timeout losing nothing, a closed end
// keeping its fd until the kernel let go of its record.
#include <fcntl.h>
#include <sys/ioctl.h>

#include <optional>

#include "runtime/byte_stream_tasks.h"

using emio::Pipe;
using emio::Result;
using emio_test::read_with_timeout;

namespace {

constexpr uint32_t buffer_bytes = 64;  // small: write_all of a few hundred bytes takes several writes

emio::ExecutorConfig native_config() {
  emio::ExecutorConfig config = emio_test::executor_config(8);
  config.native_streams = {4, buffer_bytes};
  return config;
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
};

TEST(PipeOnTheRing, AwaitedReadAndWriteGoThroughTheRing) {
  // Several writes of the send buffer's size.
  emio_test::check_bytes_arrive_in_order_across_many_writes(executor, pipe.write_end, pipe.read_end,
                                                            buffer_bytes * 3 + 5);
  // On the ring both ends hold a record and their readiness registrations are gone: a readiness await
  // would have ended with stale_token, so the bytes came through the ring.
  CHECK_EQUAL(on_the_ring() ? 2u : 0u, executor.native_streams().in_use());
  CHECK_EQUAL(!on_the_ring(), pipe.read_end.registration().io != nullptr);
  CHECK_EQUAL(!on_the_ring(), pipe.write_end.registration().io != nullptr);
}

TEST(PipeOnTheRing, ClosedWriteEndReadsAsEndOfStream) {
  emio_test::check_end_of_stream_reads_zero(executor, pipe.write_end, pipe.read_end);
}

TEST(PipeOnTheRing, ReadAbandonedByATimeoutLosesNoBytes) {
  emio_test::check_abandoned_read_loses_no_bytes(executor, pipe.read_end, pipe.write_end);
}

TEST(PipeOnTheRing, ReadEndClosedWithAReadInFlightKeepsItsFdUntilTheReadIsCancelled) {
  std::optional<Result<size_t>> abandoned;
  Result<emio::TaskId> task = executor.spawn(read_with_timeout(pipe.read_end, 10, abandoned));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(on_the_ring() ? 1u : 0u, executor.driver().operations_in_flight());  // the abandoned read
  const int fd = pipe.read_end.fd();
  CHECK_OK(pipe.read_end.close());
  if (on_the_ring()) CHECK(::fcntl(fd, F_GETFD) != -1);  // the kernel may still name it
  emio_test::run_until_records_free(executor);
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
  CHECK_EQUAL(-1, ::fcntl(fd, F_GETFD));
}

// The writer fills the pipe before anyone reads: its writes wait (in the ring, or tried again where the
// kernel answers EAGAIN for the pipe: NativeStream::file_would_block), and once the reader comes every
// byte arrives, in order, once.
TEST(PipeOnTheRing, WritesThatFillThePipeWaitForTheReaderAndLoseNothing) {
  static std::byte sent[80 * 1024];  // more than a pipe holds (64 KiB on Linux, up to 64 KiB on macOS)
  static std::byte received[sizeof sent];
  emio_test::fill_pattern(sent);
  std::optional<Result<size_t>> written;
  CHECK(executor.spawn(emio_test::write_all(pipe.write_end, sent, written)).ok());
  // Full once the bytes queued in the pipe stop growing for a while.
  int queued = 0;
  for (int round = 0, unchanged = 0; round < 20000 && unchanged < 100; ++round) {
    CHECK_OK(executor.run_once(1));
    int now = 0;
    CHECK_EQUAL(0, ::ioctl(pipe.read_end.fd(), FIONREAD, &now));
    unchanged = now == queued ? unchanged + 1 : 0;
    queued = now;
  }
  CHECK(queued > 0 && static_cast<size_t>(queued) < sizeof sent);
  CHECK(!written.has_value());  // the writer waits for room
  emio::Error outcome = emio::Error::shut_down;
  Result<emio::TaskId> reader = executor.spawn(emio_test::read_all(pipe.read_end, 4096, received, outcome));
  emio_test::run_to_completion(executor, reader);
  for (int round = 0; round < 1000 && !written.has_value(); ++round) CHECK_OK(executor.run_once(1));
  CHECK_OK(outcome);
  CHECK_EQUAL(sizeof sent, REQUIRE_VALUE(*written));
  MEMCMP_EQUAL(sent, received, sizeof sent);
}
