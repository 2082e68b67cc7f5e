// SPDX-License-Identifier: MIT
// CompletionLog operations: the same user code on every backend (the suite runs once per backend).
#include <chrono>
#include <cstring>
#include <thread>

#include "operations/operation_support.h"
#include "support/allocation_counter.h"
#include "support/driver_fixture.h"

using emio::Operation;
using emio::OpSource;
using emio_test::bytes_of;
using emio_test::CompletionLog;
using emio_test::PendingRecv;
using emio_test::turn_until;

TEST_GROUP(Operations) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::operations_config())); }
};

TEST(Operations, RecvCompletesWithTheBytesThePeerSent) {
  PendingRecv pending;
  pending.start(driver);
  CHECK_EQUAL(5, emio_test::write_data(pending.pair.second.get(), "hello", 5));
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0; }));
  CHECK_EQUAL(1, pending.done.calls);
  CHECK_EQUAL(5, pending.recv.result);
  STRCMP_EQUAL("hello", pending.buffer);
  CHECK_OK(driver.detach(pending.source));
}

TEST(Operations, SendDeliversTheBytesToThePeer) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  Operation send;
  CompletionLog done;
  emio::prepare_send(send, source, bytes_of("ping"), done.waker());
  CHECK_OK(driver.submit(send));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(4, send.result);
  char received[8] = {};
  CHECK_EQUAL(4, emio_test::read_data(pair.second.get(), received, sizeof received));
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
  CompletionLog read_done;
  CompletionLog write_done;
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
  emio_test::PendingConnect pending;
  OpSource listener;
  CHECK_OK(driver.attach(listener, pending.listener_fd.get()));
  sockaddr_in peer{};
  Operation accept;
  CompletionLog accepted;
  emio::prepare_accept(accept, listener, reinterpret_cast<sockaddr*>(&peer), sizeof peer, accepted.waker());
  CHECK_OK(driver.submit(accept));
  pending.start(driver);
  CHECK(turn_until(driver, [&] { return accepted.calls > 0 && pending.done.calls > 0; }));
  CHECK_OK(pending.connect.error());
  CHECK_OK(accept.error());
  emio::Fd server_side(accept.result);
  CHECK_EQUAL(AF_INET, peer.sin_family);
  CHECK_EQUAL(2, emio_test::write_data(pending.client_fd.get(), "hi", 2));
  char buffer[4] = {};
  for (int tries = 0; tries < 10000 && emio_test::read_data(server_side.get(), buffer, sizeof buffer) < 0; ++tries) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  STRCMP_EQUAL("hi", buffer);
  CHECK_OK(driver.detach(listener));
  CHECK_OK(driver.detach(pending.client));
}

TEST(Operations, ConnectToAClosedPortCompletesWithConnectionRefused) {
  sockaddr_in address{};
  { emio::Fd closed_listener = emio_test::loopback_listener(address); }  // the port is now closed
  emio::Fd client_fd(emio::socket_nonblocking(AF_INET, SOCK_STREAM));
  OpSource client;
  CHECK_OK(driver.attach(client, client_fd.get()));
  Operation connect;
  CompletionLog done;
  emio::prepare_connect(connect, client, reinterpret_cast<const sockaddr*>(&address), sizeof address, done.waker());
  CHECK_OK(driver.submit(connect));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  // libkqueue reads a socket's pending error (SO_ERROR, which reading clears) into the event it
  // reports, so the reason is gone when the operation looks after that kevent: it says ENOTCONN, not a
  // success. A BSD kernel copies the error into the event and leaves it on the socket.
  const emio::Error outcome = connect.error();
  const bool refused = outcome == emio::Error::from_errno(ECONNREFUSED) ||
                       (emio_test::on_libkqueue && outcome == emio::Error::from_errno(ENOTCONN));
  CHECK_TEXT(refused, outcome.name());
  CHECK_OK(driver.detach(client));
}

TEST(Operations, RecvAfterThePeerClosedCompletesWithZeroBytes) {
  PendingRecv pending;
  pending.start(driver);
  pending.pair.second.reset();
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0; }));
  CHECK_EQUAL(0, pending.recv.result);
  CHECK_OK(driver.detach(pending.source));
}

namespace {

// A stream pair whose first end has an operation of no bytes in flight.
struct EmptyTransfer {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  char unused = 0;
  Operation op;
  CompletionLog done{&op};

  EmptyTransfer(emio::Driver& driver, void (*prepare)(Operation&, OpSource&, std::span<std::byte>, emio::Waker)) {
    CHECK_OK(driver.attach(source, pair.first.get()));
    prepare(op, source, bytes_of(&unused, 0), done.waker());
    CHECK_OK(driver.submit(op));
  }
};

}  // namespace

TEST(Operations, RecvIntoAnEmptyBufferWaitsForBytesThenCompletesWithZero) {
  EmptyTransfer recv(driver, emio::prepare_recv);
  // recv(2) of no bytes says EAGAIN on a non-blocking socket with nothing to read (Linux), as a zero-byte
  // WSARecv waits: the operation waits for the peer's bytes, and leaves them in the socket.
  for (int turn = 0; turn < 3; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(0, recv.done.calls);
  CHECK_EQUAL(1, emio_test::write_data(recv.pair.second.get(), "x", 1));
  CHECK(turn_until(driver, [&] { return recv.done.calls > 0; }));
  CHECK_EQUAL(1, recv.done.calls);
  CHECK_EQUAL(0, recv.op.result);
  char byte = 0;
  CHECK_EQUAL(1, emio_test::read_data(recv.pair.first.get(), &byte, 1));
  CHECK_OK(driver.detach(recv.source));
}

TEST(Operations, ReadIntoAnEmptyBufferCompletesWithZeroWhileNoBytesWait) {
  EmptyTransfer read(driver, emio::prepare_read);
  // read(2) of no bytes returns 0 at once.
  CHECK(turn_until(driver, [&] { return read.done.calls > 0; }));
  CHECK_EQUAL(1, read.done.calls);
  CHECK_EQUAL(0, read.op.result);
  CHECK_OK(driver.detach(read.source));
}

TEST(Operations, ShutdownCompletesARecvIntoAnEmptyBufferWithEcanceled) {
  EmptyTransfer recv(driver, emio::prepare_recv);
  CHECK(driver.turn(10).ok());
  driver.shutdown();
  CHECK_EQUAL(1, recv.done.calls);
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), recv.op.error());
}

namespace {

// A datagram pair whose first end has a 4-byte receive in flight, and the 10 bytes its peer sends.
struct TruncatedDatagram {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_DGRAM);
  OpSource source;
  char buffer[8] = {};
  Operation recv;
  CompletionLog done{&recv};

  void send_ten_bytes() { CHECK_EQUAL(10, emio_test::write_data(pair.second.get(), "0123456789", 10)); }
  void start(emio::Driver& driver) {
    CHECK_OK(driver.attach(source, pair.first.get()));
    emio::prepare_recv(recv, source, bytes_of(buffer, 4), done.waker());
    CHECK_OK(driver.submit(recv));
  }
  // recv(2) of a datagram larger than the buffer: what fits, the rest dropped; one completion.
  void check_received_what_fits(emio::Driver& driver) {
    CHECK(turn_until(driver, [&] { return done.calls > 0; }));
    for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(10).ok());
    CHECK_EQUAL(1, done.calls);
    CHECK_EQUAL(4, recv.result);
    STRCMP_EQUAL("0123", buffer);
    CHECK_EQUAL(0u, driver.operations_in_flight());
    CHECK_OK(driver.detach(source));
  }
};

}  // namespace

TEST(Operations, RecvOfADatagramThatArrivedLargerThanTheBufferCompletesOnceWithWhatFits) {
  TruncatedDatagram datagram;
  datagram.send_ten_bytes();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // queued before the receive starts
  datagram.start(driver);
  datagram.check_received_what_fits(driver);
}

TEST(Operations, RecvOfADatagramLargerThanTheBufferCompletesOnceWithWhatFits) {
  TruncatedDatagram datagram;
  datagram.start(driver);
  CHECK(driver.turn(0).ok());
  datagram.send_ten_bytes();
  datagram.check_received_what_fits(driver);
}

TEST(Operations, TimeoutCompletesWithZero) {
  Operation timeout;
  CompletionLog done;
  emio::prepare_timeout(timeout, 1000000, done.waker());  // 1 ms
  CHECK_OK(driver.submit(timeout));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(1, done.calls);
  CHECK_OK(timeout.error());
}

TEST(Operations, CancelledRecvCompletesOnceWithEcanceledAndTheCancelWithZero) {
  PendingRecv pending;
  pending.start(driver);
  CHECK(driver.turn(0).ok());  // the recv is now waiting for data
  Operation cancel;
  CompletionLog cancel_done;
  emio::prepare_cancel(cancel, pending.recv, cancel_done.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0 && cancel_done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), pending.recv.error());
  CHECK_OK(cancel.error());
  // Data arriving later completes nothing a second time.
  CHECK_EQUAL(3, emio_test::write_data(pending.pair.second.get(), "late", 3));
  CHECK(driver.turn(0).ok());
  CHECK_EQUAL(1, pending.done.calls);
  CHECK_EQUAL(0u, driver.operations_in_flight());
  CHECK_OK(driver.detach(pending.source));
}

TEST(Operations, CancelOfAnOperationNotInFlightSaysEnoent) {
  Operation idle;
  Operation cancel;
  CompletionLog done;
  emio::prepare_cancel(cancel, idle, done.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ENOENT), cancel.error());
}

TEST(Operations, CancelledTimeoutCompletesWithEcanceled) {
  Operation timeout;
  Operation cancel;
  CompletionLog timeout_done;
  CompletionLog cancel_done;
  emio::prepare_timeout(timeout, 3600'000'000'000u, timeout_done.waker());  // an hour: only a cancel ends it
  CHECK_OK(driver.submit(timeout));
  CHECK(driver.turn(0).ok());
  emio::prepare_cancel(cancel, timeout, cancel_done.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return timeout_done.calls > 0 && cancel_done.calls > 0; }));
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), timeout.error());
}

TEST(Operations, ShutdownCompletesEveryInFlightOperationExactlyOnce) {
  PendingRecv pending[3];
  for (PendingRecv& one : pending) one.start(driver);
  Operation timeout;
  CompletionLog timeout_done;
  emio::prepare_timeout(timeout, 3600'000'000'000u, timeout_done.waker());
  CHECK_OK(driver.submit(timeout));
  CHECK(driver.turn(0).ok());
  driver.shutdown();
  for (const PendingRecv& one : pending) {
    CHECK_EQUAL(1, one.done.calls);
    CHECK_ERROR(emio::Error::from_errno(ECANCELED), one.recv.error());
  }
  CHECK_EQUAL(1, timeout_done.calls);
  CHECK_EQUAL(0u, driver.operations_in_flight());
  driver.shutdown();
  CHECK_EQUAL(1, timeout_done.calls);
}

TEST(Operations, SubmitAfterShutdownIsRefusedAndNothingRuns) {
  driver.shutdown();
  Operation timeout;
  CompletionLog done;
  emio::prepare_timeout(timeout, 1, done.waker());
  CHECK_ERROR(emio::Error::shut_down, driver.submit(timeout));
  CHECK_EQUAL(0, done.calls);
}

TEST(Operations, SecondReaderOnOneSourceIsRefusedWithEbusy) {
  PendingRecv pending;
  pending.start(driver);
  Operation second;
  CompletionLog done;
  emio::prepare_recv(second, pending.source, bytes_of(pending.buffer, sizeof pending.buffer), done.waker());
  CHECK_ERROR(emio::Error::from_errno(EBUSY), driver.submit(second));
  CHECK_ERROR(emio::Error::from_errno(EBUSY), driver.detach(pending.source));
  CHECK_EQUAL(1u, driver.operations_in_flight());
  driver.shutdown();  // completes the records before they go out of scope
}

TEST(Operations, InFlightOperationsNeverExceedTheCapacity) {
  Operation timeouts[9];
  CompletionLog done;
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
  CompletionLog done;
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
  CompletionLog done;
  emio::prepare_close(close, source, done.waker());
  CHECK_OK(driver.submit(close));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_OK(close.error());
  CHECK_EQUAL(-1, source.fd);
  char byte = 0;
  CHECK_EQUAL(0, emio_test::read_data(pair.second.get(), &byte, 1));  // the peer sees the end of the stream
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

  // The last reply's send has completed: the peer may read a reply before its completion runs (on IOCP
  // the packet waits for the next turn), and a shutdown then would refuse the receive it submits.
  bool receiving_again() const { return !sending; }
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
  for (int round = 0; round < 20; ++round) CHECK_EQUAL(4, emio_test::echo_round_trip(driver, pair.second.get()));
  CHECK_EQUAL(20, server.received_messages);
  CHECK(emio_test::turn_until(driver, [&] { return server.receiving_again(); }));
  driver.shutdown();  // completes the record before it goes out of scope
}

TEST(Operations, EchoTrafficAfterWarmUpAllocatesNothing) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  EchoServer server{&driver, &source, {}, {}, 0, false};
  server.receive();
  const uint64_t allocations = emio_test::allocations_in_echo_rounds(driver, pair.second.get(), 200);
  CHECK_EQUAL(200, server.received_messages);
  CHECK_EQUAL(0u, allocations);
  CHECK(emio_test::turn_until(driver, [&] { return server.receiving_again(); }));
  driver.shutdown();  // completes the record before it goes out of scope
}

namespace {

emio::DriverConfig multishot_config() {
  emio::DriverConfig config = emio_test::operations_config();
  config.receive_buffers = {4, 32};
  return config;
}

}  // namespace

TEST(Operations, MultishotRecvDeliversEachChunkUntilTheStreamEnds) {
  emio::Driver multishot_driver;
  CHECK_OK(multishot_driver.init(multishot_config()));
  emio_test::expect_multishot_recv_until_end(multishot_driver, 10);
}

TEST(Operations, MultishotAcceptCompletesPerConnectionUntilCancelled) {
  emio_test::expect_multishot_accept_until_cancelled(driver, 2);
}

namespace {

// A recv and a send parked on one socket whose send buffer is full; the peer then hangs up, which wakes
// both. `on_recv` runs inside the recv's completion.
struct HangUpWithBothParked {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  char in[16] = {};
  char out[4096] = {};
  Operation recv;
  Operation send;
  CompletionLog sent{&send};
  void (*on_recv)(HangUpWithBothParked&) = nullptr;
  emio::Driver* driver = nullptr;
  Operation cancel;
  CompletionLog cancelled{&cancel};
  int recv_calls = 0;

  static void recv_done(void* context) {
    auto& self = *static_cast<HangUpWithBothParked*>(context);
    self.recv_calls += 1;
    self.on_recv(self);
  }

  void start(emio::Driver& on) {
    driver = &on;
    while (emio_test::write_data(pair.first.get(), out, sizeof out) > 0) {  // non-blocking
    }
    CHECK_OK(on.attach(source, pair.first.get()));
    emio::prepare_recv(recv, source, bytes_of(in, sizeof in), emio::Waker{recv_done, this});
    emio::prepare_send(send, source, {reinterpret_cast<const std::byte*>(out), sizeof out}, sent.waker());
    CHECK_OK(on.submit(recv));
    CHECK_OK(on.submit(send));
    for (int turn = 0; turn < 5; ++turn) CHECK(on.turn(10).ok());  // both tried and parked
    CHECK(recv.in_flight() && send.in_flight());
    pair.second.reset();  // the hang-up
  }
};

}  // namespace

TEST(Operations, SendCompletesOnceWhenTheRecvCallbackCancelsItDuringAHangUp) {
  HangUpWithBothParked scene;
  scene.on_recv = [](HangUpWithBothParked& self) {
    emio::prepare_cancel(self.cancel, self.send, self.cancelled.waker());
    CHECK_OK(self.driver->submit(self.cancel));
  };
  scene.start(driver);
  CHECK(turn_until(driver, [&] { return !scene.send.in_flight() && !scene.cancel.in_flight(); }));
  for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(1, scene.recv_calls);
  CHECK_EQUAL(1, scene.sent.calls);
  CHECK_EQUAL(0u, driver.operations_in_flight());
  // Before the fix the ledger's count wrapped below zero (4294967295) and every later submit said EBUSY.
  CHECK_OK(driver.detach(scene.source));
}

TEST(Operations, SendCompletesOnceWhenTheRecvCallbackShutsTheDriverDown) {
  HangUpWithBothParked scene;
  scene.on_recv = [](HangUpWithBothParked& self) { self.driver->shutdown(); };
  scene.start(driver);
  for (int turn = 0; turn < 50 && scene.recv_calls == 0; ++turn) {
    if (!driver.turn(100).ok()) break;
  }
  CHECK_EQUAL(1, scene.recv_calls);
  CHECK_EQUAL(1, scene.sent.calls);
  CHECK_EQUAL(0u, driver.operations_in_flight());
}
