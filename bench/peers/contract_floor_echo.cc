// SPDX-License-Identifier: MIT
// emio_peer_contract_floor PORT [--max-seconds S]: the floor of emio-echo on epoll. A coroutine per
// connection, `co_await read` and `co_await write_all` as emio-echo's loop does, on the smallest runtime
// that keeps emio's waker contract (docs/design.md), written here without any of emio's layers. It is not
// a runtime to use: it shows how many instructions per request the contract and the coroutines cost at the
// least, beside raw epoll and libev. Per connection:
// - a generation beside the fd in the event's data: an event for the fd's previous connection is dropped
//   (here a closed fd has left epoll before the next wait, so none ever is: the check is paid all the same);
// - one atomic word: readable, writable and read-closed bits, a tick that every event bumps, a waiter bit
//   per direction and a "wake running" bit. The dispatch claims the waiters and marks the wake running in
//   one compare-and-swap, calls each claimed waker (a function and a context, which queues the coroutine)
//   and releases the running bit (what lets clear_waker on another thread wait for a call in progress);
// - a read whose recv came back short remembers the word it read: if no event came since and the peer has
//   not closed, the next read clears that readiness and parks in one compare-and-swap, with no recv to see
//   EAGAIN (emio-echo's system calls per request are raw epoll's, so the floor's are too).
// Where it is lighter than design.md's contract, which makes the true floor higher, not lower: one tick for
// both directions (emio keeps one per direction), and both waiters claimed in the one compare-and-swap
// (emio takes the writer in a second one, after the reader's waker returned).
// Edge-triggered, registered once per connection. The contract of the peers is in peer_contract.h.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <coroutine>
#include <cstdio>
#include <cstdlib>

#include "peer_contract.h"

namespace {

using namespace emio_peers;

constexpr const char* name = "emio_peer_contract_floor";
constexpr int events_per_wait = 256;
constexpr uint64_t listener_data = ~uint64_t{0};
constexpr uint64_t stop_data = ~uint64_t{0} - 1;

constexpr uint64_t readable_bit = 1;
constexpr uint64_t writable_bit = 2;
constexpr uint64_t read_waiter_bit = 4;
constexpr uint64_t write_waiter_bit = 8;
constexpr uint64_t running_bit = 16;
constexpr uint64_t read_closed_bit = 32;          // the peer closed, or the socket failed: final, never cleared
constexpr uint64_t tick_one = uint64_t{1} << 32;  // the tick in the upper half wraps without touching the bits

struct Waker {
  void (*wake)(void* context);
  void* context;
};

// What an event brings, by epoll's flags (EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP, and EPOLLRDHUP as
// bit 5): its readiness bits and the waiters it claims, as emio's epoll backend maps them through a table.
constexpr uint8_t event_bits(unsigned index) {
  const bool readable = (index & (EPOLLIN | EPOLLERR | EPOLLHUP | 0x20)) != 0;
  const bool writable = (index & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0;
  const bool closed = (index & (EPOLLERR | EPOLLHUP | 0x20)) != 0;
  return static_cast<uint8_t>((readable ? readable_bit | read_waiter_bit : 0) |
                              (writable ? writable_bit | write_waiter_bit : 0) | (closed ? read_closed_bit : 0));
}
struct EventTable {
  uint8_t bits[64];
  constexpr EventTable() : bits{} {
    for (unsigned index = 0; index < 64; ++index) bits[index] = event_bits(index);
  }
};
constexpr EventTable event_table;
constexpr uint64_t waiter_bits = read_waiter_bit | write_waiter_bit;

// Lives in a static table indexed by fd, zero-initialised (.bss, as the other peers' tables).
struct Connection {
  std::atomic<uint64_t> word;
  uint32_t generation;
  int fd;
  Waker reader;
  Waker writer;
  std::coroutine_handle<> reading;
  std::coroutine_handle<> writing;
  uint64_t drained_word;  // the word a short recv was made under, or 0
  char buffer[peer_buffer_bytes];
};

struct FloorServer {
  int poller = -1;
  PeerSockets sockets;
  std::coroutine_handle<> ready[connection_table_fds];  // each connection's coroutine waits on one thing at a time
  int ready_count = 0;
};

FloorServer server;
Connection connections[connection_table_fds];

void queue_reader(void* context) { server.ready[server.ready_count++] = static_cast<Connection*>(context)->reading; }

void queue_writer(void* context) { server.ready[server.ready_count++] = static_cast<Connection*>(context)->writing; }

// Parks on `waiter_bit` in one compare-and-swap that also clears `cleared` from `seen`. False when the word
// changed since `seen` (an event came, and bumped the tick): the caller looks again.
bool park(Connection& connection, uint64_t seen, uint64_t cleared, uint64_t waiter_bit) {
  return connection.word.compare_exchange_strong(seen, (seen & ~cleared) | waiter_bit, std::memory_order_acq_rel,
                                                 std::memory_order_acquire);
}

constexpr ssize_t receive_again = -2;  // woken, but the recv found nothing after all: await again

struct ReadAwaiter {
  Connection& connection;
  ssize_t received = receive_again;
  uint64_t seen = 0;  // the readiness word of the last look

  // True once the recv has a result (bytes, end of stream or an error). A short recv, or EAGAIN, leaves the
  // word it was made under in drained_word: until an event changes the word, nothing more is readable,
  // unless the peer had closed by then (its end of stream comes with no event of its own).
  bool try_receive(uint64_t word) {
    if ((word & readable_bit) == 0 || word == connection.drained_word) return false;
    received = ::recv(connection.fd, connection.buffer, sizeof connection.buffer, 0);
    const bool would_block = received < 0 && errno == EAGAIN;
    const bool short_read = received >= 0 && static_cast<size_t>(received) < sizeof connection.buffer;
    connection.drained_word = (would_block || short_read) && (word & read_closed_bit) == 0 ? word : 0;
    if (would_block) received = receive_again;
    return !would_block;
  }
  bool await_ready() {
    seen = connection.word.load(std::memory_order_acquire);
    return try_receive(seen);
  }
  bool await_suspend(std::coroutine_handle<> coroutine) {
    connection.reading = coroutine;
    // The word await_ready saw: on one thread nothing changed it since.
    while (!park(connection, seen, seen & readable_bit, read_waiter_bit)) {
      seen = connection.word.load(std::memory_order_acquire);
      if (try_receive(seen)) return false;
    }
    return true;
  }
  // Woken by the dispatch: the recv is made now.
  ssize_t await_resume() {
    if (received == receive_again) await_ready();
    return received;
  }
};

struct WritableAwaiter {
  Connection& connection;
  uint64_t seen;  // the word the send that found the socket full was made under

  bool await_ready() { return false; }
  bool await_suspend(std::coroutine_handle<> coroutine) {
    connection.writing = coroutine;
    while (!park(connection, seen, writable_bit, write_waiter_bit)) {
      seen = connection.word.load(std::memory_order_acquire);
      if ((seen & writable_bit) != 0) return false;  // became writable since: send again
    }
    return true;
  }
  void await_resume() {}
};

struct Task {
  struct promise_type {
    Task get_return_object() { return {}; }
    std::suspend_never initial_suspend() { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::abort(); }
  };
};

// Echoes until end of stream or an error. A send the socket cannot take whole waits for writable.
Task serve(Connection& connection) {
  for (;;) {
    const ssize_t received = co_await ReadAwaiter{connection};
    if (received == receive_again) continue;
    if (received <= 0) break;
    size_t sent = 0;
    while (sent < static_cast<size_t>(received)) {
      const uint64_t seen = connection.word.load(std::memory_order_acquire);
      const ssize_t wrote =
          ::send(connection.fd, connection.buffer + sent, static_cast<size_t>(received) - sent, MSG_NOSIGNAL);
      if (wrote >= 0) {
        sent += static_cast<size_t>(wrote);
      } else if (errno == EAGAIN) {
        co_await WritableAwaiter{connection, seen};
      } else {
        break;
      }
    }
    if (sent < static_cast<size_t>(received)) break;
  }
  connection.generation += 1;  // an event still queued for this fd would belong to nobody now
  ::close(connection.fd);
}

void dispatch(uint64_t data, uint32_t events) {
  const auto fd = static_cast<uint32_t>(data);
  if (fd >= static_cast<uint32_t>(connection_table_fds) ||
      connections[fd].generation != static_cast<uint32_t>(data >> 32)) {
    return;  // the fd's previous connection: dropped
  }
  Connection& connection = connections[fd];
  const uint64_t bits = event_table.bits[(events & 0x1f) | ((events & EPOLLRDHUP) != 0 ? 0x20 : 0)];
  const uint64_t readiness = bits & ~waiter_bits;
  const uint64_t claimable = bits & waiter_bits;  // a direction's waiter, when its readiness came
  uint64_t seen = connection.word.load(std::memory_order_relaxed);
  uint64_t claimed = 0;
  uint64_t next = 0;
  do {
    claimed = seen & claimable;
    next = ((seen | readiness) + tick_one) & ~claimed;
    if (claimed != 0) next |= running_bit;
  } while (!connection.word.compare_exchange_weak(seen, next, std::memory_order_acq_rel, std::memory_order_relaxed));
  if (claimed == 0) return;
  if ((claimed & read_waiter_bit) != 0) connection.reader.wake(connection.reader.context);
  if ((claimed & write_waiter_bit) != 0) connection.writer.wake(connection.writer.context);
  connection.word.fetch_and(~running_bit, std::memory_order_release);
}

void accept_pending() {
  for (;;) {
    const int fd = accept_connection(server.sockets.listener_fd);
    if (fd == accept_nothing_pending) return;
    if (fd == accept_turned_away) continue;
    Connection& connection = connections[fd];
    connection.word.store(0, std::memory_order_relaxed);
    connection.fd = fd;
    connection.drained_word = 0;
    // The wakers stay: each parks the coroutine handle it finds in the connection.
    connection.reader = Waker{&queue_reader, &connection};
    connection.writer = Waker{&queue_writer, &connection};
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = (uint64_t{connection.generation} << 32) | static_cast<uint32_t>(fd);
    if (::epoll_ctl(server.poller, EPOLL_CTL_ADD, fd, &event) < 0) {
      ::close(fd);
      continue;
    }
    serve(connection);
  }
}

void watch(int fd, uint64_t data) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = data;
  (void)::epoll_ctl(server.poller, EPOLL_CTL_ADD, fd, &event);
}

int run() {
  epoll_event events[events_per_wait];
  for (;;) {
    const int count = ::epoll_wait(server.poller, events, events_per_wait, -1);
    for (int i = 0; i < count; ++i) {
      const uint64_t data = events[i].data.u64;
      if (data == stop_data) return exit_code_for_stop(name, server.sockets.stop_fd);
      if (data == listener_data) {
        accept_pending();
      } else {
        dispatch(data, events[i].events);
      }
    }
    for (int i = 0; i < server.ready_count; ++i) server.ready[i].resume();
    server.ready_count = 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (const int code = start_peer(name, argc, argv, &server.sockets); code >= 0) return code;
  server.poller = ::epoll_create1(EPOLL_CLOEXEC);
  if (server.poller < 0) {
    std::perror("emio_peer_contract_floor: epoll_create1");
    return exit_failure;
  }
  watch(server.sockets.stop_fd, stop_data);
  watch(server.sockets.listener_fd, listener_data);
  return run();
}
