// SPDX-License-Identifier: MIT
// ByteStream::read_view (read_view.h): one receive's bytes lent in place, on every backend: from the
// ring's buffers on io_uring, from the executor's read-view pool on readiness. The same behaviour either
// way: the bytes in order, end of stream as an empty view, views past the buffers waiting for one that is
// released, nothing lost by an abandoned read, no buffer held while waiting, no heap after warm-up.
// Also the native streams' shared send buffers (NativeStreamOptions::send_buffers).
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "emio/port/clock.h"
#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/allocation_counter.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::ByteStream;
using emio::Error;
using emio::ReceivedBytes;
using emio::Result;
using emio::TcpStream;
using emio_test::bytes_of;
using emio_test::text_of;

namespace {

constexpr uint32_t buffer_bytes = 64;
constexpr uint32_t shared_buffers = 2;  // fewer than the streams: views and sends past them wait

emio::ExecutorConfig view_config(uint32_t read_view_buffers = shared_buffers) {
  emio::ExecutorConfig config = emio_test::executor_config(16);
  config.native_streams = {.capacity = 6,
                           .buffer_bytes = buffer_bytes,
                           .listener_capacity = 0,
                           .receive_buffers = shared_buffers,
                           .send_buffers = 1};
  config.read_view_buffers = {read_view_buffers, buffer_bytes};
  return config;
}

// Two connected streams over loopback TCP, not a socketpair: the same suite on every platform (Winsock
// has no socketpair, wine 8 no AF_UNIX). Nagle off: the echo below must not wait for delayed ACKs.
struct StreamPair {
  TcpStream first;   // the client: the tests write here
  TcpStream second;  // the accepted side: the tests take views here
};

StreamPair connected_pair(emio::Handle handle) {
  emio_test::FdPair fds = emio_test::make_tcp_pair();
  StreamPair pair{TcpStream(REQUIRE_TAKE(emio::PollFd::adopt(handle, std::move(fds.second)))),
                  TcpStream(REQUIRE_TAKE(emio::PollFd::adopt(handle, std::move(fds.first))))};
  CHECK_OK(pair.first.set_nodelay(true));
  CHECK_OK(pair.second.set_nodelay(true));
  return pair;
}

// What a view held: its bytes as text (at most 64), or its error.
struct SeenView {
  std::optional<Error> error;
  char text[buffer_bytes + 1] = {};
  size_t size = 0;
  bool done = false;
};

void keep(SeenView& seen, Result<ReceivedBytes>& got) {
  seen.done = true;
  if (!got.ok()) {
    seen.error = got.error();
    return;
  }
  seen.size = got.value().size();
  if (seen.size > 0) std::memcpy(seen.text, got.value().bytes().data(), seen.size);  // an empty view has no data
}

emio::Task<> view_once(ByteStream& stream, SeenView& seen) {
  Result<ReceivedBytes> got = co_await stream.read_view();
  keep(seen, got);
}

// Takes a view and keeps it (lent) until `release` is set, checked every millisecond.
emio::Task<> view_and_hold(ByteStream& stream, SeenView& seen, const bool& release) {
  Result<ReceivedBytes> got = co_await stream.read_view();
  keep(seen, got);
  while (!release) (void)co_await emio::sleep_ms(1);
}

emio::Task<> view_with_timeout(ByteStream& stream, uint32_t timeout_ms, std::optional<Error>& outcome) {
  Result<ReceivedBytes> got = co_await emio::with_timeout(timeout_ms, stream.read_view());
  outcome = got.ok() ? Error{} : got.error();
}

emio::Task<> echo_views(ByteStream& client, ByteStream& server, int rounds, Error& outcome) {
  std::byte reply[8] = {};
  for (int round = 0; round < rounds; ++round) {
    Result<size_t> sent = co_await client.write("request!");
    Result<ReceivedBytes> got = co_await server.read_view();
    if (!sent.ok() || !got.ok() || got.value().size() != sizeof reply) {
      outcome = Error::from_errno(EIO);
      co_return;
    }
    Result<size_t> back = co_await server.write_all(got.value().bytes());
    got.value().release();
    Result<size_t> echoed = co_await client.read(reply);
    if (!back.ok() || !echoed.ok() || text_of(std::span(reply, echoed.value())) != "request!") {
      outcome = Error::from_errno(EIO);
      co_return;
    }
  }
  outcome = Error{};
}

emio::Task<> write_text(ByteStream& stream, std::string_view text, uint32_t timeout_ms,
                        std::optional<Result<size_t>>& outcome) {
  outcome.emplace(co_await emio::with_timeout(timeout_ms, stream.write_all(text)));
}

}  // namespace

TEST_GROUP(ReadView) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(view_config())); }
  bool on_the_ring() { return executor.driver().takes_leased_receives(); }
  void run_for(uint32_t milliseconds) {
    const uint64_t until = emio::monotonic_now_ns() + uint64_t{milliseconds} * 1'000'000;
    while (emio::monotonic_now_ns() < until) CHECK_OK(executor.run_once(1));
  }
  // One view of `stream`, awaited to its end.
  void view_now(ByteStream & stream, SeenView & seen) {
    Result<emio::TaskId> task = executor.spawn(view_once(stream, seen));
    emio_test::run_to_completion(executor, task);
  }
  // Buffers a view or a send holds on this backend now: the ring's are the driver's, not counted here.
  uint32_t pool_buffers_lent() {
    const emio::BufferPool& pool = executor.read_view_buffers();
    return pool.count() - pool.free_count();
  }
};

TEST(ReadView, LendsTheBytesOfOneReceive) {
  StreamPair pair = connected_pair(executor.handle());
  CHECK_EQUAL(5u, REQUIRE_VALUE(pair.first.try_write(bytes_of("hello"))));
  SeenView seen;
  view_now(pair.second, seen);
  CHECK_FALSE(seen.error.has_value());
  STRCMP_EQUAL("hello", seen.text);
}

TEST(ReadView, IsEmptyAtEndOfStream) {
  StreamPair pair = connected_pair(executor.handle());
  CHECK_OK(pair.first.close());
  SeenView seen;
  view_now(pair.second, seen);
  CHECK_FALSE(seen.error.has_value());
  CHECK_EQUAL(0u, seen.size);
}

TEST(ReadView, AReleasedViewGivesItsBufferBackAndTheNextViewHasTheNextBytes) {
  StreamPair pair = connected_pair(executor.handle());
  CHECK_EQUAL(3u, REQUIRE_VALUE(pair.first.try_write(bytes_of("one"))));
  SeenView first;
  view_now(pair.second, first);
  CHECK_EQUAL(0u, pool_buffers_lent());
  CHECK_EQUAL(3u, REQUIRE_VALUE(pair.first.try_write(bytes_of("two"))));
  SeenView second;
  view_now(pair.second, second);
  STRCMP_EQUAL("one", first.text);
  STRCMP_EQUAL("two", second.text);
}

TEST(ReadView, StreamsWaitingForBytesHoldNoBuffer) {
  // More idle readers than shared buffers: were a buffer held while waiting, the streams that then get
  // bytes would find none (on the ring, their receives would say ENOBUFS for as long as the others idle).
  constexpr int idle = shared_buffers + 1;
  StreamPair pairs[idle + 1] = {connected_pair(executor.handle()), connected_pair(executor.handle()),
                                connected_pair(executor.handle()), connected_pair(executor.handle())};
  SeenView seen[idle + 1];
  for (int i = 0; i <= idle; ++i) CHECK(executor.spawn(view_once(pairs[i].second, seen[i])).ok());
  run_for(20);
  CHECK_EQUAL(0u, pool_buffers_lent());
  CHECK_EQUAL(4u, REQUIRE_VALUE(pairs[idle].first.try_write(bytes_of("last"))));
  run_for(20);
  CHECK(seen[idle].done);
  STRCMP_EQUAL("last", seen[idle].text);
  for (int i = 0; i < idle; ++i) CHECK_FALSE(seen[i].done);
}

TEST(ReadView, ViewsPastTheSharedBuffersWaitUntilOneIsReleased) {
  StreamPair pairs[shared_buffers + 1] = {connected_pair(executor.handle()), connected_pair(executor.handle()),
                                          connected_pair(executor.handle())};
  SeenView seen[shared_buffers + 1];
  bool release = false;
  for (uint32_t i = 0; i < shared_buffers; ++i) {
    CHECK_EQUAL(1u, REQUIRE_VALUE(pairs[i].first.try_write(bytes_of("x"))));
    CHECK(executor.spawn(view_and_hold(pairs[i].second, seen[i], release)).ok());
  }
  run_for(10);
  CHECK(seen[0].done && seen[1].done);
  CHECK_EQUAL(1u, REQUIRE_VALUE(pairs[shared_buffers].first.try_write(bytes_of("y"))));
  CHECK(executor.spawn(view_once(pairs[shared_buffers].second, seen[shared_buffers])).ok());
  run_for(20);
  CHECK_FALSE(seen[shared_buffers].done);  // every buffer is lent
  release = true;
  run_for(20);
  CHECK(seen[shared_buffers].done);
  STRCMP_EQUAL("y", seen[shared_buffers].text);
}

TEST(ReadView, AViewAbandonedByATimeoutLosesNoBytes) {
  StreamPair pair = connected_pair(executor.handle());
  std::optional<Error> abandoned;
  Result<emio::TaskId> first = executor.spawn(view_with_timeout(pair.second, 20, abandoned));
  emio_test::run_to_completion(executor, first);
  CHECK_ERROR(emio::timed_out, *abandoned);
  CHECK_EQUAL(5u, REQUIRE_VALUE(pair.first.try_write(bytes_of("after"))));
  SeenView seen;
  view_now(pair.second, seen);
  STRCMP_EQUAL("after", seen.text);
  CHECK_EQUAL(0u, pool_buffers_lent());
}

TEST(ReadView, AReadWhileAViewIsLentAnswersEbusyOnTheRing) {
  if (!on_the_ring()) return;  // readiness: the view's buffer is the pool's, and the next read goes on
  StreamPair pair = connected_pair(executor.handle());
  CHECK_EQUAL(6u, REQUIRE_VALUE(pair.first.try_write(bytes_of("lent!!"))));
  SeenView seen;
  bool release = false;
  CHECK(executor.spawn(view_and_hold(pair.second, seen, release)).ok());
  run_for(10);
  CHECK(seen.done);
  std::byte buffer[8];
  CHECK_ERROR(emio::Error::from_errno(EBUSY), pair.second.try_read(buffer).error());
  release = true;
  run_for(5);
  CHECK(pair.second.try_read(buffer).error() == emio::would_block);
}

TEST(ReadView, AViewOutlivingItsClosedStreamKeepsItsBytesAndFreesEverythingOnRelease) {
  StreamPair pair = connected_pair(executor.handle());
  CHECK_EQUAL(4u, REQUIRE_VALUE(pair.first.try_write(bytes_of("kept"))));
  SeenView seen;
  bool release = false;
  CHECK(executor.spawn(view_and_hold(pair.second, seen, release)).ok());
  run_for(10);
  CHECK_OK(pair.second.close());
  run_for(5);
  CHECK_EQUAL(on_the_ring() ? 1u : 0u, executor.native_streams().in_use());  // the record waits for the view
  release = true;
  run_for(10);
  STRCMP_EQUAL("kept", seen.text);
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, pool_buffers_lent());
}

TEST(ReadView, EchoThroughViewsAllocatesNothingAfterWarmUp) {
  StreamPair pair = connected_pair(executor.handle());
  Error outcome = Error::shut_down;
  Result<emio::TaskId> warm_up = executor.spawn(echo_views(pair.first, pair.second, 2, outcome));
  emio_test::run_to_completion(executor, warm_up);
  const uint64_t before = emio_test::allocations_so_far();
  Result<emio::TaskId> task = executor.spawn(echo_views(pair.first, pair.second, 50, outcome));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  CHECK_EQUAL(before, emio_test::allocations_so_far());
}

TEST(ReadView, WritesPastTheSharedSendBuffersWaitAndEveryByteArrives) {
  // One send buffer for every stream on the ring (readiness writes need none): three writers take turns.
  StreamPair pairs[3] = {connected_pair(executor.handle()), connected_pair(executor.handle()),
                         connected_pair(executor.handle())};
  std::optional<Result<size_t>> written[3];
  for (int i = 0; i < 3; ++i) CHECK(executor.spawn(write_text(pairs[i].first, "abcdefgh", 5000, written[i])).ok());
  run_for(30);
  for (int i = 0; i < 3; ++i) {
    CHECK_EQUAL(8u, REQUIRE_VALUE(*written[i]));
    std::byte got[16];
    CHECK_EQUAL(8u, REQUIRE_VALUE(pairs[i].second.try_read(got)));
    STRCMP_EQUAL("abcdefgh", std::string(text_of(std::span(got, 8))).c_str());
  }
  if (on_the_ring()) CHECK_EQUAL(1u, executor.native_streams().send_buffers().free_count());
}

TEST_GROUP(ReadViewWithoutPool) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(view_config(0))); }
};

TEST(ReadViewWithoutPool, AReadinessViewAnswersEnobufs) {
  if (executor.driver().takes_leased_receives()) return;  // the ring lends its own buffers
  StreamPair pair = connected_pair(executor.handle());
  CHECK_EQUAL(1u, REQUIRE_VALUE(pair.first.try_write(bytes_of("x"))));
  SeenView seen;
  Result<emio::TaskId> task = executor.spawn(view_once(pair.second, seen));
  emio_test::run_to_completion(executor, task);
  CHECK_ERROR(emio::Error::from_errno(ENOBUFS), *seen.error);
}

// One pool buffer and no native streams: the readiness route on every backend, with views queued for the
// buffer. Each test ends a queued or handed-over view another way; the buffer must always come back.
TEST_GROUP(ReadViewQueue) {
  emio::Executor executor;
  StreamPair holder;  // its view holds the only buffer until `release`
  StreamPair queued;  // its view queues for the buffer
  SeenView held;
  SeenView waiting;
  bool release = false;
  void setup() override {
    emio::ExecutorConfig config = emio_test::executor_config(16);
    config.native_streams = {};
    config.read_view_buffers = {1, buffer_bytes};
    CHECK_OK(executor.init(config));
    holder = connected_pair(executor.handle());
    queued = connected_pair(executor.handle());
    CHECK_EQUAL(1u, REQUIRE_VALUE(holder.first.try_write(bytes_of("x"))));
    CHECK_EQUAL(1u, REQUIRE_VALUE(queued.first.try_write(bytes_of("y"))));
    CHECK(executor.spawn(view_and_hold(holder.second, held, release)).ok());
    run_for(10);
    CHECK(held.done);
  }
  void run_for(uint32_t milliseconds) {
    const uint64_t until = emio::monotonic_now_ns() + uint64_t{milliseconds} * 1'000'000;
    while (emio::monotonic_now_ns() < until) CHECK_OK(executor.run_once(1));
  }
  const emio::BufferPool& pool() { return executor.read_view_buffers(); }
};

TEST(ReadViewQueue, AQueuedViewWhoseStreamClosesGivesBackTheBufferHandedToIt) {
  CHECK(executor.spawn(view_once(queued.second, waiting)).ok());
  run_for(10);
  CHECK_EQUAL(1u, pool().waiting_count());
  CHECK_OK(queued.second.close());
  release = true;
  run_for(20);
  CHECK(waiting.done && waiting.error.has_value());
  CHECK_EQUAL(1u, pool().free_count());
}

TEST(ReadViewQueue, AQueuedViewEndedByItsTimeoutLeavesTheQueue) {
  // The timeout re-polls the view first, and its closed stream ends it: it must not stay queued, or the
  // next buffer given back is written into its freed frame and its dead waker called.
  std::optional<Error> outcome;
  CHECK(executor.spawn(view_with_timeout(queued.second, 20, outcome)).ok());
  run_for(5);
  CHECK_OK(queued.second.close());
  run_for(40);
  CHECK(outcome.has_value());
  CHECK_EQUAL(0u, pool().waiting_count());
  release = true;
  run_for(20);
  CHECK_EQUAL(1u, pool().free_count());
}

TEST(ReadViewQueue, AViewHandedABufferThatThenFindsNoBytesWaitsWithoutIt) {
  CHECK(executor.spawn(view_once(queued.second, waiting)).ok());
  run_for(10);
  std::byte drained[8];
  CHECK_EQUAL(1u, REQUIRE_VALUE(queued.second.try_read(drained)));  // the bytes go before the buffer comes
  CHECK(queued.second.try_read(drained).error() == emio::would_block);
  release = true;
  run_for(20);
  CHECK_FALSE(waiting.done);
  CHECK_EQUAL(1u, pool().free_count());
  CHECK_EQUAL(1u, REQUIRE_VALUE(queued.first.try_write(bytes_of("z"))));
  run_for(20);
  STRCMP_EQUAL("z", waiting.text);
}
