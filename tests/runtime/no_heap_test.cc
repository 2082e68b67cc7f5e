// SPDX-License-Identifier: MIT
// The users' rule, for the runtime: once the executor is initialised, a steady-state loop of coroutines
// echoing over sockets, sleeps, timeouts, periodic timers, IoWatch callbacks and spawns from another
// thread allocates nothing. Counted by tests/support/allocation_counter.
#include <atomic>
#include <thread>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/allocation_counter.h"
#include "support/check.h"

using emio::Error;
using emio::Result;
using emio::Task;

namespace {

constexpr size_t message_bytes = 16;

Task<> echo_server(emio::StreamSocket& stream, int rounds) {
  std::byte buffer[message_bytes];
  for (int round = 0; round < rounds; ++round) {
    Result<size_t> got = co_await emio::with_timeout(60000, stream.read(buffer));
    if (!got.ok() || got.value() == 0) co_return;
    Result<size_t> sent = co_await stream.write(std::span(buffer, got.value()));
    if (!sent.ok()) co_return;
  }
}

Task<> echo_client(emio::StreamSocket& stream, int rounds, int& completed) {
  std::byte message[message_bytes] = {};
  std::byte reply[message_bytes];
  for (int round = 0; round < rounds; ++round) {
    Result<size_t> sent = co_await stream.write(message);
    if (!sent.ok()) co_return;
    size_t total = 0;
    while (total < message_bytes) {
      Result<size_t> got = co_await stream.read(std::span(reply).subspan(total));
      if (!got.ok() || got.value() == 0) co_return;
      total += got.value();
    }
    Error slept = co_await emio::sleep_ms(0);
    if (slept.failed()) co_return;
    completed += 1;
  }
}

struct Watcher {
  emio::Executor* executor;
  emio::DatagramSocket* socket;
  emio::IoWatch watch;
  int datagrams = 0;
  void arm() {
    CHECK_OK(watch.arm(*executor, socket->registration(), emio::Direction::read, &Watcher::on_readable, this));
  }
  static void on_readable(void* context, emio::ReadyEvent) {
    auto* self = static_cast<Watcher*>(context);
    std::byte buffer[8];
    while (self->socket->try_recv(buffer).ok()) self->datagrams += 1;
    self->arm();
  }
};

// Two connected streams and two connected datagram sockets: Unix-domain pairs, or on Windows, which has
// no socketpair, loopback TCP and UDP.
#if defined(_WIN32)
struct SocketPairs {
  emio::TcpStream streams[2];
  emio::UdpSocket datagrams[2];
};

SocketPairs socket_pairs(emio::Executor& executor) {
  SocketPairs pairs;
  emio::TcpListener listener = REQUIRE_TAKE(emio::TcpListener::bind(executor.handle(), emio_test::loopback_any_port()));
  pairs.streams[0] =
      REQUIRE_TAKE(emio::TcpStream::connect_start(executor.handle(), REQUIRE_VALUE(listener.local_address())));
  pairs.streams[1] = REQUIRE_TAKE(emio_test::retry_while_would_block(executor, [&] { return listener.try_accept(); }));
  for (emio::UdpSocket& datagram : pairs.datagrams) {
    datagram = REQUIRE_TAKE(emio::UdpSocket::bind(executor.handle(), emio_test::loopback_any_port()));
  }
  CHECK_OK(pairs.datagrams[0].connect(REQUIRE_VALUE(pairs.datagrams[1].local_address())));
  CHECK_OK(pairs.datagrams[1].connect(REQUIRE_VALUE(pairs.datagrams[0].local_address())));
  return pairs;
}
#else
struct SocketPairs {
  emio::UnixStream streams[2];
  emio::UnixDatagram datagrams[2];
};

SocketPairs socket_pairs(emio::Executor& executor) {
  emio::UnixStreamPair streams = REQUIRE_TAKE(emio::UnixStream::pair(executor.handle()));
  emio::UnixDatagramPair datagrams = REQUIRE_TAKE(emio::UnixDatagram::pair(executor.handle()));
  return {{std::move(streams.first), std::move(streams.second)},
          {std::move(datagrams.first), std::move(datagrams.second)}};
}
#endif

}  // namespace

TEST_GROUP(RuntimeNoHeap) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(emio_test::executor_config(8))); }
};

TEST(RuntimeNoHeap, SteadyStateLoopAllocatesNothing) {
  constexpr int rounds = 200;
  SocketPairs pairs = socket_pairs(executor);
  Watcher watcher{&executor, &pairs.datagrams[1], {}, 0};
  watcher.arm();
  emio::Timer periodic;
  int ticks = 0;
  CHECK_OK(executor.timers().start_periodic(
      periodic, 1, [](emio::Timer&, void* context) { *static_cast<int*>(context) += 1; }, &ticks));
  std::atomic<int> remote_runs{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> counting{false};
  std::thread remote = emio_test::started_thread([&] {  // started before counting: starting allocates
    while (!stop.load()) {
      if (counting.load()) {
        (void)executor.remote().spawn([](void* context) { static_cast<std::atomic<int>*>(context)->fetch_add(1); },
                                      &remote_runs);
      }
      std::this_thread::yield();
    }
  });

  // The first pass warms up whatever the C library sets up lazily, then counting starts.
  uint64_t allocations_before = 0;
  int completed = 0;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      counting.store(true);
      allocations_before = emio_test::allocations_so_far();
    }
    CHECK(executor.spawn(echo_server(pairs.streams[1], rounds)).ok());
    Result<emio::TaskId> client = executor.spawn(echo_client(pairs.streams[0], rounds, completed));
    for (int i = 0; i < rounds; ++i) (void)pairs.datagrams[0].try_send(emio_test::bytes_of("d"));
    emio_test::run_to_completion(executor, client);
  }
  const uint64_t allocations = emio_test::allocations_so_far() - allocations_before;
  stop.store(true);
  remote.join();

  CHECK_EQUAL(0u, allocations);
  CHECK_EQUAL(2 * rounds, completed);  // the loop really ran
  CHECK(watcher.datagrams > 0);
  CHECK(ticks > 0);
  CHECK(remote_runs.load() > 0 || executor.stats().remote_spawns == 0);
}
