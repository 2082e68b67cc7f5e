// SPDX-License-Identifier: MIT
// Listeners on the ring (native_listener.h): on io_uring accepts go through one single-shot accept in
// flight per listener and a queue of accepted connections, on epoll through readiness and accept4, and
// the behaviour is the same: every connection accepted once, in arrival order, with its peer's address;
// closing the listener ends its accept and closes the connections it had not handed out.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <optional>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;
using emio::Result;
using emio::SocketAddress;
using emio::TcpListener;

namespace {

// Listeners on the ring: the default, wherever streams are on the ring.
constexpr uint32_t listener_capacity = emio::NativeStreamOptions{}.listener_capacity;

emio::ExecutorConfig native_config() {
  emio::ExecutorConfig config = emio_test::executor_config(8);
  config.native_streams.capacity = 4;
  config.native_streams.buffer_bytes = 64;
  return config;
}

// A blocking connect: on loopback the kernel completes the handshake into the backlog, before any accept.
emio::Fd connect_client(const SocketAddress& address) {
  emio::Fd client(::socket(address.family(), SOCK_STREAM, 0));  // no SOCK_CLOEXEC: macOS has none
  CHECK(client.valid());
  CHECK_EQUAL(0, ::connect(client.get(), address.native(), address.native_length()));
  return client;
}

SocketAddress local_address_of(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  CHECK_EQUAL(0, ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length));
  return SocketAddress::from_native(reinterpret_cast<sockaddr*>(&storage), length);
}

constexpr uint32_t accept_timeout_ms = 2000;

// Accepts `peers.size()` connections, keeping each one's peer address; the streams close at once.
template <typename Listener>
emio::Task<> accept_each(Listener& listener, std::span<SocketAddress> peers, Error& outcome) {
  for (SocketAddress& peer : peers) {
    // Bounded: a connection that was lost fails the test here, not at run_to_completion's deadline.
    auto accepted = co_await emio::with_timeout(accept_timeout_ms, listener.accept(&peer));
    if (!accepted.ok()) {
      outcome = accepted.error();
      co_return;
    }
  }
  outcome = Error{};
}

emio::Task<> accept_with_timeout(TcpListener& listener, uint32_t timeout_ms, Error& outcome) {
  Result<emio::TcpStream> accepted = co_await emio::with_timeout(timeout_ms, listener.accept());
  outcome = accepted.ok() ? Error{} : accepted.error();
}

// Blocks up to 2 s for what the peer's end of `client` became: 0 (closed), -1 (errno: reset), or bytes.
long read_with_deadline(int client) {
  const timeval deadline{2, 0};
  CHECK_EQUAL(0, ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline));
  char byte = 0;
  return ::recv(client, &byte, 1, 0);
}

}  // namespace

TEST_GROUP(NativeListener) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(native_config())); }

  TcpListener bind_loopback(int backlog = 128) {
    return REQUIRE_TAKE(TcpListener::bind(executor.handle(), emio_test::loopback_any_port(), backlog));
  }
  // Listener records in use: on a driver that runs operations natively, one per listener that accepted.
  uint32_t records_for(uint32_t listeners) { return executor.driver().takes_leased_receives() ? listeners : 0; }
  // Connects `clients.size()` clients, accepts them all and checks that each came once, in order.
  template <typename Listener>
  void accept_in_order(Listener & listener, std::span<emio::Fd> clients, std::span<SocketAddress> peers) {
    const SocketAddress address = REQUIRE_VALUE(listener.local_address());
    for (emio::Fd& client : clients) client = connect_client(address);
    Error outcome = Error::shut_down;
    emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(accept_each(listener, peers, outcome))));
    CHECK_OK(outcome);
  }
  void run_until_records_free() {
    for (int round = 0; round < 200 && executor.native_streams().listeners().in_use() > 0; ++round) {
      CHECK_OK(executor.run_once(10));
    }
  }
};

TEST(NativeListener, AcceptTakesEachConnectionOnceInArrivalOrderWithItsPeerAddress) {
  TcpListener listener = bind_loopback();
  emio::Fd clients[3];
  SocketAddress peers[3];
  accept_in_order(listener, clients, peers);
  for (size_t i = 0; i < 3; ++i) CHECK(local_address_of(clients[i].get()) == peers[i]);
}

TEST(NativeListener, ListenerKeepsOneAcceptInFlightByDefaultWhereTheDriverRunsOperations) {
  TcpListener listener = bind_loopback();
  emio::Fd clients[2];
  SocketAddress peers[2];
  accept_in_order(listener, clients, peers);
  CHECK_EQUAL(records_for(1), executor.native_streams().listeners().in_use());
  CHECK_EQUAL(records_for(1), executor.driver().operations_in_flight());  // armed for the next connections
}

TEST(NativeListener, MoreConnectionsThanTheQueueHoldsAllWaitingBeforeTheFirstAcceptAreAllAcceptedInOrder) {
  // Every connection is in the backlog when the first accept arms the ring: the kernel may take only as
  // many as the queue has room for, the rest stay in the backlog. 300 is also more than the multishot
  // accept's queue held (256), which took the whole backlog at once and closed what did not fit.
  constexpr uint32_t count = 300;
  static_assert(count > emio::NativeListener::queue_capacity);
  TcpListener listener = bind_loopback(static_cast<int>(count));
  emio::Fd clients[count];
  SocketAddress peers[count];
  accept_in_order(listener, clients, peers);
  for (size_t i = 0; i < count; ++i) CHECK(local_address_of(clients[i].get()) == peers[i]);
}

TEST(NativeListener, ConnectionsAcceptedAheadOfTheAwaitsAreAtMostAQueueFull) {
  constexpr uint32_t count = emio::NativeListener::queue_capacity * 2;
  TcpListener listener = bind_loopback(static_cast<int>(count));
  emio::Fd clients[count];
  SocketAddress peers[1];
  accept_in_order(listener, std::span(clients, 1), peers);
  const SocketAddress address = REQUIRE_VALUE(listener.local_address());
  for (emio::Fd& client : std::span(clients).subspan(1)) client = connect_client(address);
  for (uint32_t turn = 0; turn < 4 * count; ++turn) CHECK_OK(executor.run_once(1));  // accepting ahead
  CHECK_OK(listener.close());
  run_until_records_free();
  // The listener closes what it accepted ahead (end of stream); the kernel resets the backlog's.
  uint32_t accepted_ahead = 0;
  for (emio::Fd& client : std::span(clients).subspan(1)) {
    const long got = read_with_deadline(client.get());
    CHECK(got == 0 || (got < 0 && errno == ECONNRESET));
    accepted_ahead += got == 0 ? 1 : 0;
  }
  const bool on_the_ring = executor.driver().takes_leased_receives();
  CHECK_EQUAL(on_the_ring ? emio::NativeListener::queue_capacity : 0u, accepted_ahead);
}

TEST(NativeListener, UnixListenerAcceptsTheSameWay) {
  char name[64];
  std::snprintf(name, sizeof name, "@emio-native-listener-%d", static_cast<int>(::getpid()));
  emio::UnixListener listener =
      REQUIRE_TAKE(emio::UnixListener::bind(executor.handle(), REQUIRE_VALUE(SocketAddress::parse(name))));
  emio::Fd clients[2];
  SocketAddress peers[2];
  accept_in_order(listener, clients, peers);
  CHECK_EQUAL(records_for(1), executor.native_streams().listeners().in_use());
}

TEST(NativeListener, ClosedListenerKeepsItsFdOpenUntilItsAcceptIsCancelledThenFreesItsRecord) {
  TcpListener listener = bind_loopback();
  Error abandoned = Error{};
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(accept_with_timeout(listener, 10, abandoned))));
  CHECK_ERROR(emio::timed_out, abandoned);
  const int fd = listener.fd();
  CHECK_OK(listener.close());  // its accept still in flight on the ring
  if (executor.driver().takes_leased_receives()) CHECK(::fcntl(fd, F_GETFD) != -1);
  run_until_records_free();
  CHECK_EQUAL(0u, executor.native_streams().listeners().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
  CHECK_EQUAL(-1, ::fcntl(fd, F_GETFD));
}

TEST(NativeListener, ConnectionsNotYetAcceptedWhenTheListenerClosesAreClosed) {
  TcpListener listener = bind_loopback();
  emio::Fd clients[1];
  SocketAddress peers[1];
  accept_in_order(listener, clients, peers);
  // On the ring the armed accept takes this one into the listener's queue; on epoll it waits in the backlog.
  emio::Fd waiting = connect_client(REQUIRE_VALUE(listener.local_address()));
  CHECK_OK(executor.run_once(10));
  CHECK_OK(listener.close());
  run_until_records_free();
  const long got = read_with_deadline(waiting.get());
  CHECK(got == 0 || (got < 0 && errno == ECONNRESET));  // closed (queued on the ring) or reset (the backlog)
}

TEST(NativeListener, ListenersBeyondThePoolCapacityAcceptOnReadiness) {
  TcpListener listeners[listener_capacity + 1];
  for (TcpListener& listener : listeners) listener = bind_loopback();
  for (TcpListener& listener : listeners) {
    emio::Fd clients[1];
    SocketAddress peers[1];
    accept_in_order(listener, clients, peers);
    CHECK(local_address_of(clients[0].get()) == peers[0]);
  }
  CHECK_EQUAL(records_for(listener_capacity), executor.native_streams().listeners().in_use());
}
