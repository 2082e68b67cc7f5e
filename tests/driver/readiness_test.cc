// SPDX-License-Identifier: MIT
// Readiness reported by the backend on real fds: pipes, socketpairs, TCP and UDP over loopback,
// edge-triggered semantics, and the final closed states.

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio::Direction;
using emio::Interest;
using emio::Registration;

TEST_GROUP(Readiness) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(16, 4))); }

  Registration add(int fd, Interest interest) { return REQUIRE_VALUE(driver.handle().add_source(fd, interest)); }
  bool readable(Registration registration) { return registration.io->readiness(Direction::read).ready.is_readable(); }
  bool writable(Registration registration) { return registration.io->readiness(Direction::write).ready.is_writable(); }
};

TEST(Readiness, PipeReadEndBecomesReadableAfterAWrite) {
  auto pipe = emio_test::make_pipe();
  Registration reader = add(pipe.first.get(), Interest::readable);
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_FALSE(readable(reader));
  CHECK_EQUAL(3, emio_test::write_bytes(pipe.second.get(), 3));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(readable(reader));
}

TEST(Readiness, PipeWriteEndIsWritableAtOnce) {
  auto pipe = emio_test::make_pipe();
  Registration writer = add(pipe.second.get(), Interest::writable);
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(writable(writer));
}

TEST(Readiness, SocketpairIsWritableThenReadable) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  Registration end = add(pair.first.get(), Interest::readable | Interest::writable);
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(writable(end));
  CHECK_FALSE(readable(end));
  CHECK_EQUAL(5, emio_test::write_bytes(pair.second.get(), 5));
  // libkqueue watches an fd with one EPOLLET registration for both filters, and a new edge reports both:
  // the write filter fires again with nothing new. epoll and a BSD kernel report the read edge alone;
  // the sim reports epoll's IN|OUT as two events.
  const uint32_t events = REQUIRE_VALUE(driver.turn(0));
  CHECK_EQUAL(emio_test::on_libkqueue || emio_test::on_sim ? 2u : 1u, events);
  CHECK(readable(end));
}

TEST(Readiness, TcpLoopbackServerSideBecomesReadable) {
  auto tcp = emio_test::make_tcp_pair();
  Registration server = add(tcp.first.get(), Interest::readable);
  CHECK_EQUAL(64, emio_test::write_bytes(tcp.second.get(), 64));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(10000)));
  CHECK(readable(server));
  CHECK_EQUAL(64u, emio_test::drain(tcp.first.get()));
}

TEST(Readiness, UdpLoopbackBecomesReadableOnADatagram) {
  auto udp = emio_test::make_udp_pair();
  Registration receiver = add(udp.first.get(), Interest::readable);
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(32, emio_test::write_bytes(udp.second.get(), 32));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(10000)));
  CHECK(readable(receiver));
}

TEST(Readiness, EdgeTriggeredReportsOnceUntilNewDataArrives) {
  auto pipe = emio_test::make_pipe();
  Registration reader = add(pipe.first.get(), Interest::readable);
  CHECK_EQUAL(10, emio_test::write_bytes(pipe.second.get(), 10));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  // Data is still buffered, but there was no new edge: no new event.
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  char one = 0;
  CHECK_EQUAL(1, emio_test::read_data(pipe.first.get(), &one, 1));  // a partial read is no edge either
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  if (emio_test::on_iocp) {
    // IOCP: new bytes on a source whose task has not drained it are no new edge; the task that drains
    // to EAGAIN and clears gets the next one (mio's contract on Windows).
    CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
    const emio::ReadyEvent seen = reader.io->readiness(Direction::read);
    CHECK_EQUAL(10u, emio_test::drain(pipe.first.get()));
    reader.io->clear_readiness(seen);
    CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
    CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  }
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
}

TEST(Readiness, DrainUntilEagainThenClearThenNextWriteIsSeen) {
  auto pipe = emio_test::make_pipe();
  Registration reader = add(pipe.first.get(), Interest::readable);
  CHECK_EQUAL(10, emio_test::write_bytes(pipe.second.get(), 10));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  const emio::ReadyEvent seen = reader.io->readiness(Direction::read);
  CHECK_EQUAL(10u, emio_test::drain(pipe.first.get()));
  reader.io->clear_readiness(seen);
  CHECK_FALSE(readable(reader));
  CHECK_EQUAL(2, emio_test::write_bytes(pipe.second.get(), 2));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(readable(reader));
}

TEST(Readiness, ClearingTheReadDirectionAfterEagainBringsNoSpuriousWritableEvent) {
  // mio#1963: on Windows, re-arming a socket's whole interest after a read's WouldBlock made its AFD poll
  // complete at once with "writable", one spurious event per read, which livelocked a reader whose clear
  // it invalidated (tokio-rs/tokio#8054). Each direction must come back on its own clear only.
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  Registration end = add(pair.first.get(), Interest::readable | Interest::writable);
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(10000)));
  CHECK(writable(end));
  CHECK_EQUAL(3, emio_test::write_bytes(pair.second.get(), 3));
  for (int turn = 0; turn < 100 && !readable(end); ++turn) (void)REQUIRE_VALUE(driver.turn(100));
  const emio::ReadyEvent write_seen = end.io->readiness(Direction::write);
  const emio::ReadyEvent read_seen = end.io->readiness(Direction::read);
  CHECK_EQUAL(3u, emio_test::drain(pair.first.get()));
  end.io->clear_readiness(read_seen);
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(50)));
  CHECK_EQUAL(write_seen.tick, end.io->readiness(Direction::write).tick);
  CHECK_FALSE(readable(end));
}

TEST(Readiness, WaitingTaskIsWokenOnceByTheEvent) {
  auto pipe = emio_test::make_pipe();
  Registration reader = add(pipe.first.get(), Interest::readable);
  emio_test::CountingWaker task;
  CHECK_FALSE(reader.io->poll_ready(Direction::read, task.waker()).is_ready());
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(1, task.calls.load());
  CHECK(reader.io->poll_ready(Direction::read, task.waker()).is_ready());
}

TEST(Readiness, MoreReadySourcesThanTheEventBufferAreAllDeliveredOverTurns) {
  emio_test::FdPair pipes[10];
  Registration readers[10];
  for (int i = 0; i < 10; ++i) {
    pipes[i] = emio_test::make_pipe();
    readers[i] = add(pipes[i].first.get(), Interest::readable);
    CHECK_EQUAL(1, emio_test::write_bytes(pipes[i].second.get(), 1));
  }
  uint32_t delivered = 0;
  for (int turn = 0; turn < 3; ++turn) delivered += REQUIRE_VALUE(driver.turn(0));  // buffer holds 4
  CHECK_EQUAL(10u, delivered);
  for (const Registration& reader : readers) CHECK(readable(reader));
}

TEST(Readiness, PipeWriterClosingIsAFinalReadClosed) {
  auto pipe = emio_test::make_pipe();
  Registration reader = add(pipe.first.get(), Interest::readable);
  pipe.second.reset();
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  emio::ReadyEvent seen = reader.io->readiness(Direction::read);
  CHECK(seen.ready.is_read_closed());
  reader.io->clear_readiness(seen);
  CHECK(reader.io->readiness(Direction::read).ready.is_read_closed());
}

TEST(Readiness, PipeReaderClosingIsAFinalWriteClosed) {
  auto pipe = emio_test::make_pipe();
  Registration writer = add(pipe.second.get(), Interest::writable);
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  pipe.first.reset();
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  emio::ReadyEvent seen = writer.io->readiness(Direction::write);
  CHECK(seen.ready.is_write_closed());
  writer.io->clear_readiness(seen);
  CHECK(writer.io->readiness(Direction::write).ready.is_write_closed());
}

TEST(Readiness, PeerShutdownOfItsWriteSideIsReadClosedWithoutARead) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  Registration end = add(pair.first.get(), Interest::readable);
  CHECK_EQUAL(0, emio_test::shut_down_writing(pair.second.get()));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  emio::ReadyEvent seen = end.io->readiness(Direction::read);
  CHECK(seen.ready.is_read_closed());
  CHECK_FALSE(end.io->readiness(Direction::write).ready.is_write_closed());
}

TEST(Readiness, TcpPeerCloseIsHangUpInBothDirections) {
  auto tcp = emio_test::make_tcp_pair();
  Registration server = add(tcp.first.get(), Interest::readable | Interest::writable);
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(10000)));
  tcp.second.reset();
  // kqueue reports per filter; libkqueue reports the peer's FIN to the write filter too (one EPOLLET
  // registration for both), a BSD kernel and epoll once (the sim splits epoll's IN|OUT in two).
  const uint32_t hang_up_events = REQUIRE_VALUE(driver.turn(10000));
  CHECK_EQUAL(emio_test::on_libkqueue || emio_test::on_sim ? 2u : 1u, hang_up_events);
  CHECK(server.io->readiness(Direction::read).ready.is_read_closed());
  // Writing to a closed peer resets the connection: that is the final hang-up in both directions.
  CHECK_EQUAL(1, emio_test::write_bytes(tcp.first.get(), 1));
  const uint32_t reset_events = REQUIRE_VALUE(driver.turn(10000));
#if defined(EMIO_BACKEND_KQUEUE)
  // The reset reaches both filters: libkqueue always reports both; a BSD kernel reports the write
  // filter's EV_EOF, and the read filter again only if it notes the reset as a new error.
  if (emio_test::on_libkqueue) CHECK_EQUAL(2u, reset_events);
  CHECK(reset_events >= 1u);
#else
  CHECK_EQUAL(emio_test::on_sim ? 2u : 1u, reset_events);
#endif
  const emio::Ready after = server.io->readiness(Direction::write).ready;
  CHECK(after.is_write_closed());
}
