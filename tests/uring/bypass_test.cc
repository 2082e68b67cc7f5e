// Kernel-bypass mode on io_uring: SQPOLL, registered files, multishot accept, multishot recv from a
// provided buffer ring, and the busy-poll turn. Each runs real traffic over loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "emio/driver/driver.h"
#include "emio/driver/operation.h"
#include "emio/port/clock.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

using emio::Operation;
using emio::OpSource;

namespace {

constexpr uint64_t generous_deadline_ms = 20000;  // only reached when a completion is lost

template <typename Done>
bool turn_until(emio::Driver& driver, Done done) {
  const uint64_t give_up = emio::monotonic_now_ms() + generous_deadline_ms;
  while (!done()) {
    if (emio::monotonic_now_ms() > give_up || !driver.turn(100).ok()) return false;
  }
  return true;
}

// Counts completions and keeps what a multishot receive delivered, while it was the caller's.
struct Collector {
  int completions = 0;
  bool more = false;
  int32_t last_result = 0;
  char received[256] = {};
  size_t received_bytes = 0;
  Operation* op = nullptr;
  static void on_complete(void* context) {
    auto& self = *static_cast<Collector*>(context);
    self.completions += 1;
    self.more = self.op->more;
    self.last_result = self.op->result;
    if (self.op->kind == emio::OpKind::recv_multishot && self.op->result > 0 &&
        self.received_bytes + self.op->value() <= sizeof self.received) {
      std::memcpy(self.received + self.received_bytes, self.op->buffer, self.op->value());
      self.received_bytes += self.op->value();
    }
  }
  emio::Waker waker() { return {on_complete, this}; }
};

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
    STRCMP_EQUAL("uring", driver.backend_name());
  }
};

TEST(UringBypass, MultishotRecvDeliversEveryChunkFromTheBufferRingThenTheEnd) {
  init();
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  CHECK(source.fixed_file >= 0);  // a registered file
  Operation recv;
  Collector collector;
  collector.op = &recv;
  emio::prepare_recv_multishot(recv, source, collector.waker());
  CHECK_OK(driver.submit(recv));
  // More chunks than the ring has buffers: each buffer goes back to the kernel after its completion.
  for (int chunk = 0; chunk < 20; ++chunk) {
    CHECK_EQUAL(1, ::write(pair.second.get(), &"abcdefghijklmnopqrst"[chunk], 1));
    CHECK(turn_until(driver, [&] { return collector.received_bytes == static_cast<size_t>(chunk + 1); }));
    CHECK(collector.more);
  }
  STRCMP_EQUAL("abcdefghijklmnopqrst", collector.received);
  pair.second.reset();  // end of stream: the last completion, with no more to follow
  CHECK(turn_until(driver, [&] { return !recv.in_flight(); }));
  CHECK_FALSE(collector.more);
  CHECK_EQUAL(0, collector.last_result);
  CHECK_OK(driver.detach(source));
}

TEST(UringBypass, MultishotAcceptCompletesOncePerConnectionUntilCancelled) {
  init();
  emio::Fd listener_fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  CHECK_EQUAL(0, ::bind(listener_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address));
  CHECK_EQUAL(0, ::listen(listener_fd.get(), 16));
  CHECK_EQUAL(0, ::getsockname(listener_fd.get(), reinterpret_cast<sockaddr*>(&address), &length));
  OpSource listener;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  Operation accept;
  Collector accepted;
  accepted.op = &accept;
  emio::prepare_accept_multishot(accept, listener, accepted.waker());
  CHECK_OK(driver.submit(accept));
  emio::Fd clients[3];
  for (int i = 0; i < 3; ++i) {
    clients[i].reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_EQUAL(0, ::connect(clients[i].get(), reinterpret_cast<sockaddr*>(&address), sizeof address));
    CHECK(turn_until(driver, [&] { return accepted.completions == i + 1; }));
    CHECK(accepted.more);
    CHECK(accepted.last_result >= 0);
    ::close(accepted.last_result);
  }
  Operation cancel;
  Collector cancelled;
  cancelled.op = &cancel;
  emio::prepare_cancel(cancel, accept, cancelled.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return !accept.in_flight() && cancelled.completions == 1; }));
  CHECK_EQUAL(4, accepted.completions);
  CHECK_FALSE(accepted.more);
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), accept.error());
  CHECK_OK(driver.detach(listener));
}

TEST(UringBypass, SqpollDriverRunsReadinessAndOperations) {
  init(emio::BackendChoice::uring_sqpoll);
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  char buffer[8] = {};
  Operation recv;
  Collector done;
  done.op = &recv;
  emio::prepare_recv(recv, source, {reinterpret_cast<std::byte*>(buffer), sizeof buffer}, done.waker());
  CHECK_OK(driver.submit(recv));
  CHECK_EQUAL(4, ::write(pair.second.get(), "poll", 4));
  CHECK(turn_until(driver, [&] { return done.completions == 1; }));
  STRCMP_EQUAL("poll", buffer);
  CHECK_OK(driver.detach(source));

  auto pipe = emio_test::make_pipe();
  emio::Registration reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), emio::Interest::readable));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(turn_until(driver, [&] { return reader.io->readiness(emio::Direction::read).ready.is_readable(); }));
}

TEST(UringBypass, CloseOfARegisteredFileReallyClosesIt) {
  init();
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.release()));
  Operation close;
  Collector done;
  done.op = &close;
  emio::prepare_close(close, source, done.waker());
  CHECK_OK(driver.submit(close));
  CHECK(turn_until(driver, [&] { return done.completions == 1; }));
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
  }
  pipes[8] = emio_test::make_pipe();
  CHECK_ERROR(emio::Error::from_errno(ENFILE), driver.attach(sources[8], pipes[8].first.get()));
  CHECK_OK(driver.detach(sources[0]));
  CHECK_OK(driver.attach(sources[8], pipes[8].first.get()));
}

#endif
