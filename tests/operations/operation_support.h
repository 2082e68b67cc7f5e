// SPDX-License-Identifier: MIT
// What the completion-operation tests share: a completion log, turning until something happened, and
// the usual set-ups (a recv in flight on a socketpair, a loopback listener).
#pragma once

#include <cstring>
#include <span>

#include "emio/driver/driver.h"
#include "emio/driver/operation.h"
#include "emio/port/clock.h"
#include "emio/port/socket.h"
#include "support/allocation_counter.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

namespace emio_test {

inline constexpr uint64_t generous_deadline_ms = 20000;  // only reached when a completion is lost

// The driver the operations suites run on: 16 registrations and events, 8 operations in flight.
inline emio::DriverConfig operations_config() {
  emio::DriverConfig config = driver_config(16, 16);
  config.operation_capacity = 8;
  return config;
}

// Counts the completions of `op` and keeps what they said, including the bytes a multishot receive
// delivered while they were the caller's.
struct CompletionLog {
  const emio::Operation* op = nullptr;
  int calls = 0;
  bool more = false;
  int32_t last_result = 0;
  char received[256] = {};
  size_t received_bytes = 0;

  static void on_complete(void* context) {
    auto& self = *static_cast<CompletionLog*>(context);
    self.calls += 1;
    if (self.op == nullptr) return;
    self.more = self.op->more;
    self.last_result = self.op->result;
    const bool chunk = self.op->kind == emio::OpKind::recv_multishot && self.op->result > 0;
    if (chunk && self.received_bytes + self.op->value() <= sizeof self.received) {
      std::memcpy(self.received + self.received_bytes, self.op->buffer, self.op->value());
      self.received_bytes += self.op->value();
    }
  }
  emio::Waker waker() { return emio::Waker{on_complete, this}; }
};

// Turns (each turn waiting up to `turn_ms`) until `done` holds or `give_up_after_ms` passed (by default
// the generous deadline); false on the deadline.
template <typename Done>
bool turn_until(emio::Driver& driver, Done done, uint64_t give_up_after_ms = generous_deadline_ms, int turn_ms = 100) {
  const uint64_t give_up = emio::monotonic_now_ms() + give_up_after_ms;
  while (!done()) {
    if (emio::monotonic_now_ms() > give_up || !driver.turn(turn_ms).ok()) return false;
  }
  return true;
}

inline std::span<std::byte> bytes_of(char* text, size_t size) { return {reinterpret_cast<std::byte*>(text), size}; }
inline std::span<const std::byte> bytes_of(const char* text) {
  return {reinterpret_cast<const std::byte*>(text), std::strlen(text)};
}

// A socketpair whose first end has a recv in flight (after start()). Stays put: the log points at it.
struct PendingRecv {
  FdPair pair = make_socketpair(SOCK_STREAM);
  emio::OpSource source;
  char buffer[16] = {};
  emio::Operation recv;
  CompletionLog done{&recv};

  PendingRecv() = default;
  PendingRecv(const PendingRecv&) = delete;
  PendingRecv& operator=(const PendingRecv&) = delete;

  void start(emio::Driver& driver) {
    CHECK_OK(driver.attach(source, pair.first.get()));
    emio::prepare_recv(recv, source, bytes_of(buffer, sizeof buffer), done.waker());
    CHECK_OK(driver.submit(recv));
  }
};

// A loopback listener and a fresh socket, never bound, with a connect to the listener in flight (after
// start()). Stays put: the log points at it.
struct PendingConnect {
  sockaddr_in listening{};
  emio::Fd listener_fd = loopback_listener(listening);
  emio::Fd client_fd{emio::socket_nonblocking(AF_INET, SOCK_STREAM)};
  emio::OpSource client;
  emio::Operation connect;
  CompletionLog done{&connect};

  PendingConnect() = default;
  PendingConnect(const PendingConnect&) = delete;
  PendingConnect& operator=(const PendingConnect&) = delete;

  void start(emio::Driver& driver) {
    CHECK_OK(driver.attach(client, client_fd.get()));
    emio::prepare_connect(connect, client, reinterpret_cast<const sockaddr*>(&listening), sizeof listening,
                          done.waker());
    CHECK_OK(driver.submit(connect));
  }
};

// One request through an echo server on the other end of `peer_fd`: sends 4 bytes and turns until the
// reply is back. Returns the reply's length (0 when it never came).
inline long echo_round_trip(emio::Driver& driver, int peer_fd) {
  CHECK_EQUAL(4, write_data(peer_fd, "echo", 4));
  char reply[8];
  long got = -1;
  const bool replied = turn_until(driver, [&] {
    got = read_data(peer_fd, reply, sizeof reply);
    return got > 0;
  });
  return replied ? got : 0;
}

// Runs `rounds` echo round trips and returns the allocations made by the second half, after the first
// half warmed up whatever the C library and the kernel set up lazily.
inline uint64_t allocations_in_echo_rounds(emio::Driver& driver, int peer_fd, int rounds) {
  uint64_t allocations_before = 0;
  for (int round = 0; round < rounds; ++round) {
    if (round == rounds / 2) allocations_before = allocations_so_far();
    CHECK_EQUAL(4, echo_round_trip(driver, peer_fd));
  }
  return allocations_so_far() - allocations_before;
}

// Scenario: a multishot recv on a socketpair delivers `chunks` one-byte chunks (more than a small
// buffer ring holds, if so configured), each with `more` set, then the end of the stream without it.
inline void expect_multishot_recv_until_end(emio::Driver& driver, int chunks) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz";
  CHECK(chunks < static_cast<int>(sizeof alphabet));
  FdPair pair = make_socketpair(SOCK_STREAM);
  emio::OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  emio::Operation recv;
  CompletionLog log{&recv};
  emio::prepare_recv_multishot(recv, source, log.waker());
  CHECK_OK(driver.submit(recv));
  for (int chunk = 0; chunk < chunks; ++chunk) {
    CHECK_EQUAL(1, write_data(pair.second.get(), &alphabet[chunk], 1));
    CHECK(turn_until(driver, [&] { return log.received_bytes == static_cast<size_t>(chunk + 1); }));
    CHECK(log.more);
  }
  CHECK_EQUAL(0, std::strncmp(alphabet, log.received, static_cast<size_t>(chunks)));
  pair.second.reset();  // end of stream: the last completion, with no more to follow
  CHECK(turn_until(driver, [&] { return !recv.in_flight(); }));
  CHECK_FALSE(log.more);
  CHECK_EQUAL(0, recv.result);
  CHECK_OK(driver.detach(source));
}

// Scenario: a multishot accept completes once per connection, with `more` set, until a cancel ends it.
inline void expect_multishot_accept_until_cancelled(emio::Driver& driver, int connections) {
  sockaddr_in address{};
  emio::Fd listener_fd = loopback_listener(address);
  emio::OpSource listener;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  emio::Operation accept;
  CompletionLog accepted{&accept};
  emio::prepare_accept_multishot(accept, listener, accepted.waker());
  CHECK_OK(driver.submit(accept));
  for (int i = 0; i < connections; ++i) {
    emio::Fd client = connect_to_loopback(address);
    CHECK(turn_until(driver, [&] { return accepted.calls == i + 1; }));
    CHECK(accepted.more);
    emio::Fd server_side(accepted.last_result);
    CHECK(server_side.valid());
  }
  emio::Operation cancel;
  CompletionLog cancelled{&cancel};
  emio::prepare_cancel(cancel, accept, cancelled.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return !accept.in_flight() && cancelled.calls == 1; }));
  CHECK_EQUAL(connections + 1, accepted.calls);
  CHECK_FALSE(accepted.more);
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), accept.error());
  CHECK_OK(driver.detach(listener));
}

}  // namespace emio_test
