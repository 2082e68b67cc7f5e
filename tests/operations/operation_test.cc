// Completion operations: the same user code on every backend (the suite runs once per backend).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "emio/driver/driver.h"
#include "emio/driver/operation.h"
#include "emio/port/clock.h"
#include "support/allocation_counter.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio::Operation;
using emio::OpSource;

namespace {

constexpr uint64_t generous_deadline_ms = 20000;  // only reached when a completion is lost

struct Completion {
  int calls = 0;
  int32_t result = 0;
  static void on_complete(void* context) {
    auto* self = static_cast<Completion*>(context);
    self->calls += 1;
  }
  emio::Waker waker() { return emio::Waker{on_complete, this}; }
};

// Turns until `done` holds or the generous deadline passes; false on the deadline.
template <typename Done>
bool turn_until(emio::Driver& driver, Done done) {
  const uint64_t give_up = emio::monotonic_now_ms() + generous_deadline_ms;
  while (!done()) {
    if (emio::monotonic_now_ms() > give_up || !driver.turn(100).ok()) return false;
  }
  return true;
}

std::span<std::byte> bytes_of(char* text, size_t size) { return {reinterpret_cast<std::byte*>(text), size}; }
std::span<const std::byte> bytes_of(const char* text) {
  return {reinterpret_cast<const std::byte*>(text), std::strlen(text)};
}

emio::Fd loopback_listener(sockaddr_in& address) {
  emio::Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  address = sockaddr_in{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  CHECK_EQUAL(0, ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address));
  CHECK_EQUAL(0, ::listen(listener.get(), 16));
  CHECK_EQUAL(0, ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length));
  return listener;
}

}  // namespace

TEST_GROUP(Operations) {
  emio::Driver driver;
  void setup() override {
    emio::DriverConfig config = emio_test::driver_config(16, 16);
    config.operation_capacity = 8;
    CHECK_OK(driver.init(config));
  }
};

TEST(Operations, RecvCompletesWithTheBytesThePeerSent) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  char buffer[16] = {};
  Operation recv;
  Completion done;
  emio::prepare_recv(recv, source, bytes_of(buffer, sizeof buffer), done.waker());
  CHECK_OK(driver.submit(recv));
  CHECK_EQUAL(5, ::write(pair.second.get(), "hello", 5));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(1, done.calls);
  CHECK_EQUAL(5, recv.result);
  STRCMP_EQUAL("hello", buffer);
  CHECK_OK(driver.detach(source));
}

TEST(Operations, SendDeliversTheBytesToThePeer) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  Operation send;
  Completion done;
  emio::prepare_send(send, source, bytes_of("ping"), done.waker());
  CHECK_OK(driver.submit(send));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(4, send.result);
  char received[8] = {};
  CHECK_EQUAL(4, ::read(pair.second.get(), received, sizeof received));
  STRCMP_EQUAL("ping", received);
  CHECK_OK(driver.detach(source));
}

TEST(Operations, ReadAndWriteMoveBytesThroughAPipe) {
  auto pipe = emio_test::make_pipe();
  OpSource reader;
  OpSource writer;
  CHECK_OK(driver.attach(reader, pipe.first.get()));
  CHECK_OK(driver.attach(writer, pipe.second.get()));
  char buffer[8] = {};
  Operation read;
  Operation write;
  Completion read_done;
  Completion write_done;
  emio::prepare_read(read, reader, bytes_of(buffer, sizeof buffer), read_done.waker());
  emio::prepare_write(write, writer, bytes_of("abc"), write_done.waker());
  CHECK_OK(driver.submit(read));
  CHECK_OK(driver.submit(write));
  CHECK(turn_until(driver, [&] { return read_done.calls > 0 && write_done.calls > 0; }));
  CHECK_EQUAL(3, write.result);
  CHECK_EQUAL(3, read.result);
  STRCMP_EQUAL("abc", buffer);
  CHECK_OK(driver.detach(reader));
  CHECK_OK(driver.detach(writer));
}

TEST(Operations, ConnectAndAcceptCompleteWithAConnectedPair) {
  sockaddr_in address{};
  emio::Fd listener_fd = loopback_listener(address);
  emio::Fd client_fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  OpSource listener;
  OpSource client;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  CHECK_OK(driver.attach(client, client_fd.get()));
  sockaddr_in peer{};
  Operation accept;
  Operation connect;
  Completion accepted;
  Completion connected;
  emio::prepare_accept(accept, listener, reinterpret_cast<sockaddr*>(&peer), sizeof peer, accepted.waker());
  emio::prepare_connect(connect, client, reinterpret_cast<const sockaddr*>(&address), sizeof address,
                        connected.waker());
  CHECK_OK(driver.submit(accept));
  CHECK_OK(driver.submit(connect));
  CHECK(turn_until(driver, [&] { return accepted.calls > 0 && connected.calls > 0; }));
  CHECK_OK(connect.error());
  CHECK_OK(accept.error());
  emio::Fd server_side(accept.result);
  CHECK_EQUAL(AF_INET, peer.sin_family);
  CHECK_EQUAL(2, ::write(client_fd.get(), "hi", 2));
  char buffer[4] = {};
  for (int tries = 0; tries < 10000 && ::read(server_side.get(), buffer, sizeof buffer) < 0; ++tries) ::usleep(100);
  STRCMP_EQUAL("hi", buffer);
  CHECK_OK(driver.detach(listener));
  CHECK_OK(driver.detach(client));
}

TEST(Operations, ConnectToAClosedPortCompletesWithConnectionRefused) {
  sockaddr_in address{};
  { emio::Fd closed_listener = loopback_listener(address); }  // the port is now closed
  emio::Fd client_fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  OpSource client;
  CHECK_OK(driver.attach(client, client_fd.get()));
  Operation connect;
  Completion done;
  emio::prepare_connect(connect, client, reinterpret_cast<const sockaddr*>(&address), sizeof address, done.waker());
  CHECK_OK(driver.submit(connect));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ECONNREFUSED), connect.error());
  CHECK_OK(driver.detach(client));
}

TEST(Operations, RecvAfterThePeerClosedCompletesWithZeroBytes) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  char buffer[8];
  Operation recv;
  Completion done;
  emio::prepare_recv(recv, source, bytes_of(buffer, sizeof buffer), done.waker());
  CHECK_OK(driver.submit(recv));
  pair.second.reset();
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(0, recv.result);
  CHECK_OK(driver.detach(source));
}

TEST(Operations, TimeoutCompletesWithZero) {
  Operation timeout;
  Completion done;
  emio::prepare_timeout(timeout, 1000000, done.waker());  // 1 ms
  CHECK_OK(driver.submit(timeout));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(1, done.calls);
  CHECK_OK(timeout.error());
}

TEST(Operations, CancelledRecvCompletesOnceWithEcanceledAndTheCancelWithZero) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  char buffer[8];
  Operation recv;
  Operation cancel;
  Completion recv_done;
  Completion cancel_done;
  emio::prepare_recv(recv, source, bytes_of(buffer, sizeof buffer), recv_done.waker());
  CHECK_OK(driver.submit(recv));
  CHECK(driver.turn(0).ok());  // the recv is now waiting for data
  emio::prepare_cancel(cancel, recv, cancel_done.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return recv_done.calls > 0 && cancel_done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), recv.error());
  CHECK_OK(cancel.error());
  // Data arriving later completes nothing a second time.
  CHECK_EQUAL(3, ::write(pair.second.get(), "late", 3));
  CHECK(driver.turn(0).ok());
  CHECK_EQUAL(1, recv_done.calls);
  CHECK_EQUAL(0u, driver.operations_in_flight());
  CHECK_OK(driver.detach(source));
}

TEST(Operations, CancelOfAnOperationNotInFlightSaysEnoent) {
  Operation idle;
  Operation cancel;
  Completion done;
  emio::prepare_cancel(cancel, idle, done.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ENOENT), cancel.error());
}

TEST(Operations, CancelledTimeoutCompletesWithEcanceled) {
  Operation timeout;
  Operation cancel;
  Completion timeout_done;
  Completion cancel_done;
  emio::prepare_timeout(timeout, 3600'000'000'000u, timeout_done.waker());  // an hour: only a cancel ends it
  CHECK_OK(driver.submit(timeout));
  CHECK(driver.turn(0).ok());
  emio::prepare_cancel(cancel, timeout, cancel_done.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return timeout_done.calls > 0 && cancel_done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), timeout.error());
}

TEST(Operations, ShutdownCompletesEveryInFlightOperationExactlyOnce) {
  emio_test::FdPair pairs[3] = {emio_test::make_socketpair(SOCK_STREAM), emio_test::make_socketpair(SOCK_STREAM),
                                emio_test::make_socketpair(SOCK_STREAM)};
  OpSource sources[3];
  Operation recvs[3];
  Completion recv_done[3];
  char buffers[3][8];
  for (int i = 0; i < 3; ++i) {
    CHECK_OK(driver.attach(sources[i], pairs[i].first.get()));
    emio::prepare_recv(recvs[i], sources[i], bytes_of(buffers[i], sizeof buffers[i]), recv_done[i].waker());
    CHECK_OK(driver.submit(recvs[i]));
  }
  Operation timeout;
  Completion timeout_done;
  emio::prepare_timeout(timeout, 3600'000'000'000u, timeout_done.waker());
  CHECK_OK(driver.submit(timeout));
  CHECK(driver.turn(0).ok());
  driver.shutdown();
  for (int i = 0; i < 3; ++i) {
    CHECK_EQUAL(1, recv_done[i].calls);
    CHECK_ERROR(emio::Error::from_errno(ECANCELED), recvs[i].error());
  }
  CHECK_EQUAL(1, timeout_done.calls);
  CHECK_EQUAL(0u, driver.operations_in_flight());
  driver.shutdown();
  CHECK_EQUAL(1, timeout_done.calls);
}

TEST(Operations, SubmitAfterShutdownIsRefusedAndNothingRuns) {
  driver.shutdown();
  Operation timeout;
  Completion done;
  emio::prepare_timeout(timeout, 1, done.waker());
  CHECK_ERROR(emio::Error::shut_down, driver.submit(timeout));
  CHECK_EQUAL(0, done.calls);
}

TEST(Operations, SecondReaderOnOneSourceIsRefusedWithEbusy) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  char buffer[8];
  Operation first;
  Operation second;
  Completion done;
  emio::prepare_recv(first, source, bytes_of(buffer, sizeof buffer), done.waker());
  emio::prepare_recv(second, source, bytes_of(buffer, sizeof buffer), done.waker());
  CHECK_OK(driver.submit(first));
  CHECK_ERROR(emio::Error::from_errno(EBUSY), driver.submit(second));
  CHECK_ERROR(emio::Error::from_errno(EBUSY), driver.detach(source));
  CHECK_EQUAL(1u, driver.operations_in_flight());
  driver.shutdown();  // completes the records before they go out of scope
}

TEST(Operations, InFlightOperationsNeverExceedTheCapacity) {
  Operation timeouts[9];
  Completion done;
  for (int i = 0; i < 8; ++i) {
    emio::prepare_timeout(timeouts[i], 3600'000'000'000u, done.waker());
    CHECK_OK(driver.submit(timeouts[i]));
  }
  emio::prepare_timeout(timeouts[8], 1, done.waker());
  CHECK_ERROR(emio::Error::from_errno(EBUSY), driver.submit(timeouts[8]));
  CHECK_EQUAL(8u, driver.operations_in_flight());
  driver.shutdown();  // completes the records before they go out of scope
}

TEST(Operations, SubmittingARecordInFlightSaysEalready) {
  Operation timeout;
  Completion done;
  emio::prepare_timeout(timeout, 3600'000'000'000u, done.waker());
  CHECK_OK(driver.submit(timeout));
  CHECK_ERROR(emio::Error::from_errno(EALREADY), driver.submit(timeout));
  driver.shutdown();  // completes the record before it goes out of scope
}

TEST(Operations, CloseClosesTheFdAndForgetsIt) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.release()));
  Operation close;
  Completion done;
  emio::prepare_close(close, source, done.waker());
  CHECK_OK(driver.submit(close));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_OK(close.error());
  CHECK_EQUAL(-1, source.fd);
  char byte = 0;
  CHECK_EQUAL(0, ::read(pair.second.get(), &byte, 1));  // the peer sees the end of the stream
}

namespace {

// Echoes what it receives, by submitting its own record again from its completion.
struct EchoServer {
  emio::Driver* driver;
  OpSource* source;
  Operation op;
  char buffer[64];
  int received_messages = 0;
  bool sending = false;

  void receive() {
    emio::prepare_recv(op, *source, bytes_of(buffer, sizeof buffer), {on_complete, this});
    CHECK_OK(driver->submit(op));
  }
  static void on_complete(void* context) {
    auto& self = *static_cast<EchoServer*>(context);
    if (self.op.result <= 0) return;
    if (self.sending) {
      self.sending = false;
      return self.receive();
    }
    self.received_messages += 1;
    self.sending = true;
    emio::prepare_send(self.op, *self.source, {reinterpret_cast<std::byte*>(self.buffer), self.op.value()},
                       {on_complete, &self});
    CHECK_OK(self.driver->submit(self.op));
  }
};

}  // namespace

TEST(Operations, CompletionMaySubmitItsOwnRecordAgain) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  EchoServer server{&driver, &source, {}, {}, 0, false};
  server.receive();
  for (int round = 0; round < 20; ++round) {
    CHECK_EQUAL(4, ::write(pair.second.get(), "echo", 4));
    char reply[8] = {};
    ssize_t got = -1;
    CHECK(turn_until(driver, [&] {
      got = ::read(pair.second.get(), reply, sizeof reply);
      return got > 0;
    }));
    CHECK_EQUAL(4, got);
  }
  CHECK_EQUAL(20, server.received_messages);
  driver.shutdown();  // completes the record before it goes out of scope
}

TEST(Operations, EchoTrafficAfterWarmUpAllocatesNothing) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  EchoServer server{&driver, &source, {}, {}, 0, false};
  server.receive();
  uint64_t allocations_before = 0;
  for (int round = 0; round < 200; ++round) {
    if (round == 100) allocations_before = emio_test::allocations_so_far();  // the first half warms up
    CHECK_EQUAL(4, ::write(pair.second.get(), "echo", 4));
    char reply[8];
    CHECK(turn_until(driver, [&] { return ::read(pair.second.get(), reply, sizeof reply) > 0; }));
  }
  const uint64_t allocations = emio_test::allocations_so_far() - allocations_before;
  CHECK_EQUAL(200, server.received_messages);
  CHECK_EQUAL(0u, allocations);
  driver.shutdown();  // completes the record before it goes out of scope
}

namespace {

struct MultishotCollector {
  int completions = 0;
  bool more = false;
  std::string_view last{};
  char received[64] = {};
  size_t received_bytes = 0;
  Operation* op = nullptr;
  static void on_complete(void* context) {
    auto& self = *static_cast<MultishotCollector*>(context);
    self.completions += 1;
    self.more = self.op->more;
    if (self.op->kind == emio::OpKind::recv_multishot && self.op->result > 0 &&
        self.received_bytes + self.op->value() <= sizeof self.received) {
      std::memcpy(self.received + self.received_bytes, self.op->buffer, self.op->value());
      self.received_bytes += self.op->value();
    }
  }
};

emio::DriverConfig multishot_config() {
  emio::DriverConfig config = emio_test::driver_config(16, 16);
  config.operation_capacity = 8;
  config.receive_buffers = {4, 32};
  return config;
}

}  // namespace

TEST(Operations, MultishotRecvDeliversEachChunkUntilTheStreamEnds) {
  emio::Driver multishot_driver;
  CHECK_OK(multishot_driver.init(multishot_config()));
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(multishot_driver.attach(source, pair.first.get()));
  Operation recv;
  MultishotCollector collector;
  collector.op = &recv;
  emio::prepare_recv_multishot(recv, source, {MultishotCollector::on_complete, &collector});
  CHECK_OK(multishot_driver.submit(recv));
  for (int chunk = 0; chunk < 10; ++chunk) {
    CHECK_EQUAL(1, ::write(pair.second.get(), &"0123456789"[chunk], 1));
    CHECK(turn_until(multishot_driver, [&] { return collector.received_bytes == static_cast<size_t>(chunk + 1); }));
    CHECK(collector.more);
  }
  STRCMP_EQUAL("0123456789", collector.received);
  pair.second.reset();
  CHECK(turn_until(multishot_driver, [&] { return !recv.in_flight(); }));
  CHECK_FALSE(collector.more);
  CHECK_EQUAL(0, recv.result);
  CHECK_OK(multishot_driver.detach(source));
}

TEST(Operations, MultishotAcceptCompletesPerConnectionUntilCancelled) {
  sockaddr_in address{};
  emio::Fd listener_fd = loopback_listener(address);
  OpSource listener;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  Operation accept;
  MultishotCollector accepted;
  accepted.op = &accept;
  emio::prepare_accept_multishot(accept, listener, {MultishotCollector::on_complete, &accepted});
  CHECK_OK(driver.submit(accept));
  emio::Fd clients[2];
  for (int i = 0; i < 2; ++i) {
    clients[i].reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_EQUAL(0, ::connect(clients[i].get(), reinterpret_cast<sockaddr*>(&address), sizeof address));
    CHECK(turn_until(driver, [&] { return accepted.completions == i + 1; }));
    CHECK(accepted.more);
    emio::Fd server_side(accept.result);
    CHECK(server_side.valid());
  }
  Operation cancel;
  Completion cancelled;
  emio::prepare_cancel(cancel, accept, cancelled.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return !accept.in_flight() && cancelled.calls == 1; }));
  CHECK_EQUAL(3, accepted.completions);
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), accept.error());
  CHECK_OK(driver.detach(listener));
}
