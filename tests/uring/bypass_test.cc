// SPDX-License-Identifier: MIT
// Kernel-bypass mode on io_uring: SQPOLL, registered files, multishot accept, multishot recv from a
// provided buffer ring, and the busy-poll turn. Each runs real traffic over loopback.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "operations/operation_support.h"
#include "support/allocation_counter.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

using emio::Operation;
using emio::OpSource;
using emio_test::CompletionLog;
using emio_test::turn_until;

namespace {

emio::DriverConfig bypass_config(emio::BackendChoice choice) {
  emio::DriverConfig config = emio_test::uring_config(choice, 16, 16);
  config.operation_capacity = 16;
  config.uring.registered_file_capacity = 8;
  config.uring.busy_poll_budget_us = 50;
  config.receive_buffers = {8, 64};
  return config;
}

}  // namespace

TEST_GROUP(UringBypass) {
  emio::Driver driver;
  void setup() override { SKIP_WITHOUT_URING(); }
  void init(emio::BackendChoice choice = emio::BackendChoice::uring) {
    CHECK_OK(driver.init(bypass_config(choice)));
    STRCMP_EQUAL(choice == emio::BackendChoice::uring_sqpoll ? "uring-sqpoll" : "uring", driver.backend_name());
  }
};

TEST(UringBypass, MultishotRecvOnARegisteredFileRecyclesTheBufferRing) {
  init();
  // 20 chunks through a ring of 8 buffers: each goes back to the kernel after its completion.
  emio_test::expect_multishot_recv_until_end(driver, 20);
}

TEST(UringBypass, MultishotAcceptOnARegisteredFileCompletesUntilCancelled) {
  init();
  emio_test::expect_multishot_accept_until_cancelled(driver, 3);
}

TEST(UringBypass, SqpollDriverRunsReadinessAndOperations) {
  init(emio::BackendChoice::uring_sqpoll);
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  char buffer[8] = {};
  Operation recv;
  CompletionLog done{&recv};
  emio::prepare_recv(recv, source, {reinterpret_cast<std::byte*>(buffer), sizeof buffer}, done.waker());
  CHECK_OK(driver.submit(recv));
  CHECK_EQUAL(4, ::write(pair.second.get(), "poll", 4));
  CHECK(turn_until(driver, [&] { return done.calls == 1; }));
  STRCMP_EQUAL("poll", buffer);
  CHECK_OK(driver.detach(source));

  auto pipe = emio_test::make_pipe();
  emio::Registration reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), emio::Interest::readable));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(turn_until(driver, [&] { return reader.io->readiness(emio::Direction::read).ready.is_readable(); }));
}

TEST(UringBypass, SqpollThreadPinnedToACpuServesSubmissions) {
  emio::DriverConfig config = bypass_config(emio::BackendChoice::uring_sqpoll);
  config.uring.sqpoll_cpu = 0;
  CHECK_OK(driver.init(config));
  STRCMP_EQUAL("uring-sqpoll", driver.backend_name());
  emio::Operation timeout;
  CompletionLog done{&timeout};
  emio::prepare_timeout(timeout, 1000000, done.waker());
  CHECK_OK(driver.submit(timeout));
  CHECK(turn_until(driver, [&] { return done.calls == 1; }));
  CHECK_OK(timeout.error());
}

TEST(UringBypass, CloseOfARegisteredFileReallyClosesIt) {
  init();
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.release()));
  Operation close;
  CompletionLog done{&close};
  emio::prepare_close(close, source, done.waker());
  CHECK_OK(driver.submit(close));
  CHECK(turn_until(driver, [&] { return done.calls == 1; }));
  CHECK_OK(close.error());
  char byte = 0;
  CHECK_EQUAL(0, ::read(pair.second.get(), &byte, 1));  // the table let go of the file: the peer sees EOF
}

TEST(UringBypass, AFullFileTableRefusesAttachWithEnfile) {
  init();
  emio_test::FdPair pipes[9];
  OpSource sources[9];
  for (int i = 0; i < 8; ++i) {
    pipes[i] = emio_test::make_pipe();
    CHECK_OK(driver.attach(sources[i], pipes[i].first.get()));
    CHECK_EQUAL(i, sources[i].fixed_file);
  }
  pipes[8] = emio_test::make_pipe();
  CHECK_ERROR(emio::Error::from_errno(ENFILE), driver.attach(sources[8], pipes[8].first.get()));
  CHECK_OK(driver.detach(sources[0]));
  CHECK_OK(driver.attach(sources[8], pipes[8].first.get()));
}

namespace {

alignas(4096) char registered_region[4096];

// Echoes every chunk a multishot recv delivers, with one send in flight at a time (the peer waits for
// each reply before it sends again).
struct MultishotEcho {
  emio::Driver* driver;
  OpSource* source;
  Operation recv{};
  Operation send{};
  char reply[64] = {};
  static void on_chunk(void* context) {
    auto& self = *static_cast<MultishotEcho*>(context);
    if (self.recv.result <= 0 || self.recv.value() > sizeof self.reply) return;
    std::memcpy(self.reply, self.recv.buffer, self.recv.value());
    emio::prepare_send(self.send, *self.source, {reinterpret_cast<std::byte*>(self.reply), self.recv.value()}, {});
    CHECK_OK(self.driver->submit(self.send));
  }
};

}  // namespace

TEST(UringBypass, MultishotEchoAfterWarmUpAllocatesNothing) {
  init();
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  MultishotEcho echo{&driver, &source};
  emio::prepare_recv_multishot(echo.recv, source, {MultishotEcho::on_chunk, &echo});
  CHECK_OK(driver.submit(echo.recv));
  CHECK_EQUAL(0u, emio_test::allocations_in_echo_rounds(driver, pair.second.get(), 200));
  driver.shutdown();  // completes the records before they go out of scope
}

TEST(UringBypass, ReadAndWriteThroughRegisteredBuffersMoveTheBytes) {
  const iovec regions[] = {{registered_region, sizeof registered_region}};
  emio::DriverConfig config = bypass_config(emio::BackendChoice::uring);
  config.uring.registered_buffers = regions;
  CHECK_OK(driver.init(config));
  auto pipe = emio_test::make_pipe();
  OpSource reader;
  OpSource writer;
  CHECK_OK(driver.attach(reader, pipe.first.get()));
  CHECK_OK(driver.attach(writer, pipe.second.get()));
  std::memcpy(registered_region, "fixed", 6);
  Operation write;
  Operation read;
  CompletionLog written{&write};
  CompletionLog read_back{&read};
  emio::prepare_write(write, writer, {reinterpret_cast<std::byte*>(registered_region), 6}, written.waker());
  emio::prepare_read(read, reader, {reinterpret_cast<std::byte*>(registered_region + 2048), 6}, read_back.waker());
  CHECK_OK(driver.submit(write));
  CHECK_OK(driver.submit(read));
  CHECK(turn_until(driver, [&] { return written.calls == 1 && read_back.calls == 1; }));
  CHECK_EQUAL(6, write.result);
  CHECK_EQUAL(6, read.result);
  STRCMP_EQUAL("fixed", registered_region + 2048);
  CHECK_OK(driver.detach(reader));
  CHECK_OK(driver.detach(writer));
}

TEST(UringBypass, RegisteringMemoryThatIsNotThereFailsInit) {
  const iovec regions[] = {{nullptr, 4096}};
  emio::DriverConfig config = bypass_config(emio::BackendChoice::uring);
  config.uring.registered_buffers = regions;
  CHECK(driver.init(config).failed());
}

#endif
