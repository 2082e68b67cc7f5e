// SPDX-License-Identifier: MIT
// Adversarial probes of streams on completion operations (native_stream.h): the orders of completions
// that the kernel may give and the ordinary suites (NativeStream, PipeOnTheRing) do not reach.
#include <fcntl.h>
#include <sys/socket.h>
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

// A second executor beside the fixture's, with one native record: the next stream can only take the
// record the last one freed.
emio::ExecutorConfig single_record_config() {
  emio::ExecutorConfig config = native_config(64);
  config.native_streams.capacity = 1;
  config.frame_count = 0;  // the fixture's executor holds the frame pool
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
  open(2 * pipe_bytes);        // a send of two pipes' worth: one page of room makes it short
  if (!on_the_ring()) return;  // readiness: nothing lingers
  CHECK(shrink_pipe(pipe.write_end.fd()));
  fill_pipe(pipe.write_end);
  static std::byte sent[2 * pipe_bytes];
  std::optional<Result<size_t>> written;
  emio_test::run_to_completion(executor,
                               REQUIRE_VALUE(executor.spawn(emio_test::write_all(pipe.write_end, sent, written))));
  CHECK_EQUAL(sizeof sent, REQUIRE_VALUE(*written));  // copied; its send waits for room
  const int fd = pipe.write_end.fd();
  CHECK_OK(pipe.write_end.close());  // the send lingers for 2 s
  CHECK_OK(executor.run_once(0));    // the linger's timer enters the kernel
  ::usleep(2'200'000);               // the linger runs out, its completion not reaped yet
  std::byte drained[pipe_bytes];
  CHECK_EQUAL(pipe_bytes, ::read(pipe.read_end.fd(), drained, sizeof drained));  // the send goes, short
  emio_test::run_until_records_free(executor);                                   // nobody reads again
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
  CHECK_EQUAL(-1, ::fcntl(fd, F_GETFD));
}

namespace {

using emio::UnixStream;

emio::Task<> read_twice(emio::ByteStream& stream, std::optional<Result<size_t>>& first,
                        std::optional<Result<size_t>>& second) {
  std::byte buffer[8];
  first.emplace(co_await stream.read(buffer));
  second.emplace(co_await stream.read(buffer));
}

emio::Task<> write_then_write(emio::ByteStream& stream, std::optional<Result<size_t>>& empty,
                              std::optional<Result<size_t>>& then) {
  empty.emplace(co_await stream.write(std::span<const std::byte>{}));
  then.emplace(co_await stream.write(emio_test::bytes_of("ok")));
}

emio::Task<> write_with_timeout(emio::ByteStream& stream, std::span<const std::byte> data, uint32_t timeout_ms,
                                std::optional<Result<size_t>>& outcome) {
  outcome.emplace(co_await emio::with_timeout(timeout_ms, stream.write(data)));
}

// A user's own operation whose completion closes `stream`.
struct CloseOnCompletion {
  emio::ByteStream* stream;
  emio::Error closed = emio::Error::shut_down;
  static void run(void* self) {
    auto& closer = *static_cast<CloseOnCompletion*>(self);
    closer.closed = closer.stream->close();
  }
};

}  // namespace

TEST_GROUP(NativeStreamSocketProbes) {
  emio::Executor executor;
  emio::UnixStreamPair pair;
  void setup() override {
    CHECK_OK(executor.init(native_config(64)));
    pair = REQUIRE_TAKE(UnixStream::pair(executor.handle()));
  }
  bool on_the_ring() { return executor.driver().takes_leased_receives(); }
  void abandon_a_read(emio::ByteStream & stream) {
    std::optional<Result<size_t>> abandoned;
    emio_test::run_to_completion(executor,
                                 REQUIRE_VALUE(executor.spawn(emio_test::read_with_timeout(stream, 5, abandoned))));
    CHECK_ERROR(emio::timed_out, abandoned->error());
  }
};

TEST(NativeStreamSocketProbes, EndOfStreamReadsZeroAgainOnTheNextRead) {
  CHECK_OK(pair.first.close());
  std::optional<Result<size_t>> first;
  std::optional<Result<size_t>> second;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(read_twice(pair.second, first, second))));
  CHECK_EQUAL(0u, REQUIRE_VALUE(*first));
  CHECK_EQUAL(0u, REQUIRE_VALUE(*second));
}

TEST(NativeStreamSocketProbes, WriteOfNoBytesReturnsZeroAndTheNextWriteGoes) {
  std::optional<Result<size_t>> empty;
  std::optional<Result<size_t>> then;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(write_then_write(pair.first, empty, then))));
  CHECK_EQUAL(0u, REQUIRE_VALUE(*empty));
  CHECK_EQUAL(2u, REQUIRE_VALUE(*then));
  std::optional<Result<size_t>> got;
  emio_test::run_to_completion(executor,
                               REQUIRE_VALUE(executor.spawn(emio_test::read_with_timeout(pair.second, 1000, got))));
  CHECK_EQUAL(2u, REQUIRE_VALUE(*got));
}

// The record moves with the stream: the bytes of a receive the old place left in flight are read at the new.
TEST(NativeStreamSocketProbes, StreamMovedWithAnAbandonedReadInFlightReadsItsBytes) {
  abandon_a_read(pair.second);
  UnixStream moved(std::move(pair.second));
  UnixStream assigned = REQUIRE_TAKE(UnixStream::pair(executor.handle())).first;
  assigned = std::move(moved);
  CHECK_EQUAL(5u, REQUIRE_VALUE(pair.first.try_write(emio_test::bytes_of("moved"))));
  std::optional<Result<size_t>> got;
  emio_test::run_to_completion(executor,
                               REQUIRE_VALUE(executor.spawn(emio_test::read_with_timeout(assigned, 1000, got))));
  CHECK_EQUAL(5u, REQUIRE_VALUE(*got));
  CHECK_OK(assigned.close());
  emio_test::run_until_records_free(executor);
  CHECK_EQUAL(0u, executor.native_streams().in_use());  // pair.first only wrote with try_write: no record
}

TEST(NativeStreamSocketProbes, StreamClosedFromInsideACompletionFreesItsRecord) {
  abandon_a_read(pair.second);
  const int fd = pair.second.fd();
  CloseOnCompletion closer{&pair.second};
  emio::Operation timer;
  emio::prepare_timeout(timer, 1'000'000, emio::Waker{&CloseOnCompletion::run, &closer});
  CHECK_OK(executor.driver().submit(timer));
  for (int round = 0; round < 100 && closer.closed == emio::Error::shut_down; ++round) CHECK_OK(executor.run_once(10));
  CHECK_OK(closer.closed);
  emio_test::run_until_records_free(executor);
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
  CHECK_EQUAL(-1, ::fcntl(fd, F_GETFD));
}

// With one record: a stream closed with its receive in flight keeps the record until the cancel ends; the
// next stream reads on readiness meanwhile, then takes the record, and no completion of the first reaches it.
TEST(NativeStreamSocketProbes, RecordFreedByOneStreamAndTakenByTheNextCarriesNothingOfTheFirst) {
  emio::Executor single;
  CHECK_OK(single.init(single_record_config()));
  emio::UnixStreamPair first = REQUIRE_TAKE(UnixStream::pair(single.handle()));
  std::optional<Result<size_t>> abandoned;
  emio_test::run_to_completion(single,
                               REQUIRE_VALUE(single.spawn(emio_test::read_with_timeout(first.second, 5, abandoned))));
  CHECK_EQUAL(5u, REQUIRE_VALUE(first.first.try_write(emio_test::bytes_of("first"))));
  CHECK_OK(first.second.close());  // its receive may have taken "first": dropped with the record
  emio::UnixStreamPair next = REQUIRE_TAKE(UnixStream::pair(single.handle()));
  for (int round = 0; round < 3; ++round) {
    CHECK_EQUAL(4u, REQUIRE_VALUE(next.first.try_write(emio_test::bytes_of("next"))));
    std::optional<Result<size_t>> got;
    emio_test::run_to_completion(single,
                                 REQUIRE_VALUE(single.spawn(emio_test::read_with_timeout(next.second, 1000, got))));
    CHECK_EQUAL(4u, REQUIRE_VALUE(*got));
  }
  CHECK_EQUAL(single.driver().takes_leased_receives() ? 1u : 0u, single.native_streams().in_use());
}

// ~Executor with a closed stream's send lingering and an open stream's receive in flight: the shutdown
// completes both; ASan sees any record or buffer touched after its pool went.
TEST(NativeStreamSocketProbes, ExecutorGoesAwayWithASendLingeringAndAReceiveInFlight) {
  const int send_buffer_bytes = 4096;
  CHECK(::setsockopt(pair.first.fd(), SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof send_buffer_bytes) == 0);
  std::byte filler[512] = {};
  while (pair.first.try_write(filler).ok()) {
  }
  std::optional<Result<size_t>> written;  // on the ring at once, written behind; on readiness timed out
  emio_test::run_to_completion(executor,
                               REQUIRE_VALUE(executor.spawn(write_with_timeout(pair.first, filler, 20, written))));
  CHECK_OK(pair.first.close());
  emio::UnixStreamPair idle = REQUIRE_TAKE(UnixStream::pair(executor.handle()));
  abandon_a_read(idle.second);
  CHECK(executor.driver().operations_in_flight() >= (on_the_ring() ? 3u : 0u));  // send, linger, receive
}

namespace {

emio::Task<> write_then_try_write(emio::ByteStream& stream, std::optional<Result<size_t>>& tried) {
  (void)co_await stream.write(emio_test::bytes_of("ab"));
  tried.emplace(stream.try_write(emio_test::bytes_of("cd")));  // the write's send has not even entered
}

emio::Task<> read_then_try_read(emio::ByteStream& stream, std::span<char> rest, std::optional<Result<size_t>>& tried) {
  char first[1];
  (void)co_await stream.read(std::span(first));
  tried.emplace(stream.try_read(std::as_writable_bytes(rest)));
}

}  // namespace

// Written behind, the awaited write's bytes still wait in the record: a try_write that went straight to
// the socket put its bytes before them ("cdab"). It waits its turn (would_block) or goes after them.
TEST(NativeStreamSocketProbes, TryWriteAfterAnAwaitedWriteKeepsTheBytesInOrder) {
  std::optional<Result<size_t>> tried;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(write_then_try_write(pair.first, tried))));
  for (int round = 0; round < 10; ++round) CHECK_OK(executor.run_once(1));  // the send completes
  char received[8] = {};
  const ssize_t got = ::recv(pair.second.fd(), received, sizeof received - 1, MSG_DONTWAIT);
  if (tried->ok()) {
    STRCMP_EQUAL("abcd", received);
  } else {
    CHECK_ERROR(emio::would_block, tried->error());
    STRCMP_EQUAL("ab", received);
  }
  CHECK(got > 0);
}

// A read shorter than what arrived leaves the rest in the record: try_read takes it first, as read() does.
TEST(NativeStreamSocketProbes, TryReadAfterAShortReadTakesTheBytesItLeft) {
  CHECK_EQUAL(4u, REQUIRE_VALUE(pair.first.try_write(emio_test::bytes_of("abcd"))));
  char rest[8] = {};
  std::optional<Result<size_t>> tried;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(read_then_try_read(pair.second, rest, tried))));
  CHECK_EQUAL(3u, REQUIRE_VALUE(*tried));
  STRCMP_EQUAL("bcd", rest);
}

// Outside the contract (a stream must not close while an await on it is in progress), and still safe, as
// the readiness path is: a read parked on a stream that another task closed, woken by its timeout after
// the record went to the next stream, leaves that stream's reader alone (it stored its own waker as the
// record's reader, and the next stream's read was never woken).
TEST(NativeStreamSocketProbes, ReadAbandonedAfterItsRecordMovedToAnotherStreamLeavesThatStreamsReader) {
  emio::Executor single;
  CHECK_OK(single.init(single_record_config()));
  if (!single.driver().takes_leased_receives()) return;  // readiness: no record
  emio::UnixStreamPair first = REQUIRE_TAKE(UnixStream::pair(single.handle()));
  emio::UnixStreamPair next = REQUIRE_TAKE(UnixStream::pair(single.handle()));
  std::optional<Result<size_t>> parked;
  const emio::TaskId parked_task = REQUIRE_VALUE(single.spawn(emio_test::read_with_timeout(first.second, 300, parked)));
  CHECK_OK(single.run_once(0));    // the read parks, its receive in flight
  CHECK_OK(first.second.close());  // by another task: the read stays parked until its timeout
  emio_test::run_until_records_free(single);
  std::optional<Result<size_t>> got;
  const emio::TaskId reader = REQUIRE_VALUE(single.spawn(emio_test::read_with_timeout(next.second, 5000, got)));
  CHECK_OK(single.run_once(0));  // it takes the record and parks
  CHECK_EQUAL(1u, single.native_streams().in_use());
  CHECK_OK(single.run_until(parked_task));                 // its timer wakes the first read, which looks again
  CHECK_ERROR(emio::Error::stale_token, parked->error());  // as on readiness: its stream is gone
  CHECK_EQUAL(4u, REQUIRE_VALUE(next.first.try_write(emio_test::bytes_of("next"))));
  for (int round = 0; round < 200 && !single.is_done(reader); ++round) CHECK_OK(single.run_once(10));
  CHECK_TEXT(single.is_done(reader), "the next stream's read was never woken");
  CHECK_EQUAL(4u, REQUIRE_VALUE(*got));
}
