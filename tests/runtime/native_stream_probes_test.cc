// SPDX-License-Identifier: MIT
// Adversarial probes of streams on completion operations (native_stream.h): the orders of completions
// that the kernel may give and the ordinary suites (NativeStream, PipeOnTheRing) do not reach.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <optional>

#include "runtime/byte_stream_tasks.h"

using emio::Pipe;
using emio::Result;

namespace {

constexpr int pipe_bytes = 4096;  // the smallest a pipe holds (one page)

emio::ExecutorConfig native_config(uint32_t buffer_bytes) {
  emio::ExecutorConfig config = emio_test::executor_config(8);
  config.native_streams = {4, buffer_bytes};
  return config;
}

// Makes the pipe hold pipe_bytes; false where its size cannot be set (F_SETPIPE_SZ is Linux's).
bool shrink_pipe(int fd) {
#if defined(F_SETPIPE_SZ)
  return ::fcntl(fd, F_SETPIPE_SZ, pipe_bytes) == pipe_bytes;
#else
  (void)fd;
  return false;
#endif
}

// Writes filler until the pipe takes no more.
void fill_pipe(emio::ByteStream& write_end) {
  std::byte filler[512] = {};
  while (write_end.try_write(filler).ok()) {
  }
}

}  // namespace

TEST_GROUP(NativeStreamProbes) {
  emio::Executor executor;
  Pipe pipe;
  void open(uint32_t buffer_bytes) {
    CHECK_OK(executor.init(native_config(buffer_bytes)));
    pipe = REQUIRE_TAKE(Pipe::open(executor.handle()));
  }
  bool on_the_ring() { return executor.driver().takes_leased_receives(); }
};

// The linger ran out (its completion reaped first) in the same turn as a short send of the closed stream
// completed: the linger's cancel found nothing to cancel, and the rest of the send, submitted after it,
// had no linger left to end it. A peer that never reads again held the record and the fd for ever.
TEST(NativeStreamProbes, ShortSendCompletedAfterTheLingerRanOutDoesNotOutliveIt) {
  open(2 * pipe_bytes);  // a send of two pipes' worth: one page of room makes it short
  if (!on_the_ring()) return;  // readiness: nothing lingers
  CHECK(shrink_pipe(pipe.write_end.fd()));
  fill_pipe(pipe.write_end);
  static std::byte sent[2 * pipe_bytes];
  std::optional<Result<size_t>> written;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(emio_test::write_all(pipe.write_end, sent,
                                                                                            written))));
  CHECK_EQUAL(sizeof sent, REQUIRE_VALUE(*written));  // copied; its send waits for room
  const int fd = pipe.write_end.fd();
  CHECK_OK(pipe.write_end.close());  // the send lingers for 2 s
  CHECK_OK(executor.run_once(0));    // the linger's timer enters the kernel
  ::usleep(2'200'000);               // the linger runs out, its completion not reaped yet
  std::byte drained[pipe_bytes];
  CHECK_EQUAL(pipe_bytes, ::read(pipe.read_end.fd(), drained, sizeof drained));  // the send goes, short
  emio_test::run_until_records_free(executor);  // nobody reads again
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
  CHECK_EQUAL(-1, ::fcntl(fd, F_GETFD));
}
