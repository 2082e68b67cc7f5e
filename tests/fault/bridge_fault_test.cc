// SPDX-License-Identifier: MIT
// Bridge traffic under faults, in process: a feeder writes into a pipe (the UART's side), the bridge
// pumps it over a loopback TCP connection and back out into a second pipe, and a checker reads every
// byte there, then the end of stream (nothing duplicated after the last byte). Counts are compared once
// it is all closed, and a clean round follows.
#include <cerrno>

#include "emio/port/clock.h"
#include "emio/runtime/runtime.h"
#include "fault/echo_traffic.h"
#include "fault/fault_layer.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Error;
using emio::Result;
using emio::Task;
using emio::TcpStream;
using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;
using emio_fault::Schedule;

namespace {

constexpr uint32_t bridged_bytes = 48 * 1024;
constexpr uint32_t stream_id = 77;

struct Bridge {
  emio::Pipe uart_in;   // feeder -> bridge
  emio::Pipe uart_out;  // bridge -> checker
  TcpStream uplink;     // the bridge's client side
  TcpStream downlink;   // the accepted side
  uint32_t checked_bytes = 0;
  uint32_t wrong_bytes = 0;
  bool ended = false;  // the checker saw the end of stream
  Error failure{};
};

void note(Bridge& bridge, Error error) {
  if (bridge.failure.ok()) bridge.failure = error;
}

// Writes all of `data` to a pipe end.
Task<Error> write_all(emio::ByteStream& end, std::span<const std::byte> data) {
  while (!data.empty()) {
    Result<size_t> wrote = co_await end.write(data);
    if (!wrote.ok()) co_return wrote.error();
    data = data.subspan(wrote.value());
  }
  co_return Error{};
}

Task<> feed(Bridge& bridge) {
  std::byte chunk[700];
  for (uint32_t offset = 0; offset < bridged_bytes;) {
    const uint32_t size = std::min<uint32_t>(sizeof chunk, bridged_bytes - offset);
    for (uint32_t i = 0; i < size; ++i) chunk[i] = emio_fault_test::pattern_byte(stream_id, offset + i);
    if (Error wrote = co_await write_all(bridge.uart_in.write_end, std::span(chunk, size)); wrote.failed()) {
      note(bridge, wrote);
      break;
    }
    offset += size;
  }
  (void)bridge.uart_in.write_end.close();
}

Task<> pump_uart_to_tcp(Bridge& bridge) {
  std::byte buffer[512];
  for (;;) {
    Result<size_t> got = co_await bridge.uart_in.read_end.read(buffer);
    if (!got.ok()) note(bridge, got.error());
    if (!got.ok() || got.value() == 0) break;
    Result<size_t> sent = co_await bridge.uplink.write_all(std::span(buffer, got.value()));
    if (!sent.ok()) note(bridge, sent.error());
  }
  (void)bridge.uplink.shutdown_write();
}

Task<> pump_tcp_to_uart(Bridge& bridge) {
  std::byte buffer[512];
  for (;;) {
    Result<size_t> got = co_await bridge.downlink.read(buffer);
    if (!got.ok()) note(bridge, got.error());
    if (!got.ok() || got.value() == 0) break;
    if (Error wrote = co_await write_all(bridge.uart_out.write_end, std::span(buffer, got.value())); wrote.failed()) {
      note(bridge, wrote);
    }
  }
  (void)bridge.uart_out.write_end.close();
}

Task<> check(Bridge& bridge) {
  std::byte buffer[600];
  for (;;) {
    Result<size_t> got = co_await bridge.uart_out.read_end.read(buffer);
    if (!got.ok()) note(bridge, got.error());
    if (!got.ok() || got.value() == 0) break;
    for (size_t i = 0; i < got.value(); ++i) {
      bridge.wrong_bytes += buffer[i] != emio_fault_test::pattern_byte(stream_id, bridge.checked_bytes + uint32_t(i));
    }
    bridge.checked_bytes += uint32_t(got.value());
  }
  bridge.ended = true;
}

}  // namespace

TEST_GROUP(FaultBridge) {
  emio::Executor executor;
  emio::TcpListener listener;
  uint64_t seed = emio_fault::seed_from_environment(20261202);

  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(16, 16)));
    listener = REQUIRE_TAKE(emio::TcpListener::bind(executor.handle(), emio_test::loopback_any_port()));
  }
  void teardown() override { emio_fault::disarm(); }
  // The bridge's connection and pipes, made before any fault.
  void open(Bridge & bridge) {
    bridge.uplink = REQUIRE_TAKE(TcpStream::connect_start(executor.handle(), REQUIRE_VALUE(listener.local_address())));
    for (int attempt = 0; attempt < 1000 && !bridge.downlink.is_open(); ++attempt) {
      CHECK_OK(executor.run_once(10));
      Result<TcpStream> accepted = listener.try_accept();
      if (accepted.ok()) bridge.downlink = std::move(accepted.value());
    }
    bridge.uart_in = REQUIRE_TAKE(emio::Pipe::open(executor.handle()));
    bridge.uart_out = REQUIRE_TAKE(emio::Pipe::open(executor.handle()));
  }
  void run_bridge(const Schedule* schedule) {
    const int fds_before = emio_test::settled_fd_count();
    const uint32_t registrations_before = executor.driver().live_registrations();
    {
      Bridge bridge;
      open(bridge);
      CHECK(executor.spawn(feed(bridge)).ok());
      CHECK(executor.spawn(pump_uart_to_tcp(bridge)).ok());
      CHECK(executor.spawn(pump_tcp_to_uart(bridge)).ok());
      CHECK(executor.spawn(check(bridge)).ok());
      if (schedule != nullptr) emio_fault::arm(*schedule, seed);
      const uint64_t give_up_ms = emio::monotonic_now_ms() + 20000;
      Error turned{};
      while ((!bridge.ended || executor.live_tasks() > 0) && turned.ok() && emio::monotonic_now_ms() < give_up_ms) {
        turned = executor.run_once(10);
      }
      if (schedule != nullptr)
        UT_PRINT(
            StringFromFormat("%s: %llu faults injected", schedule->name, (unsigned long long)emio_fault::injected()));
      emio_fault::disarm();
      const SimpleString replay =
          StringFromFormat(" (seed %llu: EMIO_FAULT_SEED replays it)", (unsigned long long)seed);
      CHECK_TEXT(turned.ok(), (SimpleString(turned.name()) + replay).asCharString());
      CHECK_TEXT(bridge.failure.ok(), (SimpleString(bridge.failure.name()) + replay).asCharString());
      CHECK_TEXT(bridge.ended, (SimpleString("the checker never saw the end") + replay).asCharString());
      CHECK_TEXT(bridge.checked_bytes == bridged_bytes,
                 (SimpleString("bytes lost or duplicated") + replay).asCharString());
      CHECK_TEXT(bridge.wrong_bytes == 0, (SimpleString("a byte differs") + replay).asCharString());
      CHECK_EQUAL(0u, executor.live_tasks());
      CHECK_EQUAL(0u, executor.frame_pool().frames_in_use());
    }
    CHECK_EQUAL(registrations_before, executor.driver().live_registrations());
    CHECK_EQUAL(fds_before, emio_test::settled_fd_count());
  }
  void survive(const Schedule& schedule) {
    run_bridge(&schedule);
    run_bridge(nullptr);
  }
};

TEST(FaultBridge, EintrStormsOnPipesAndSocketsLoseNothing) {
  static constexpr Rule rules[] = {
      {Call::read, Effect::fail, EINTR, 200, 6}, {Call::write, Effect::fail, EINTR, 200, 6},
      {Call::recv, Effect::fail, EINTR, 150, 4}, {Call::send, Effect::fail, EINTR, 150, 4},
      {Call::wait, Effect::fail, EINTR, 200, 8}, {Call::uring_submit, Effect::fail, EINTR, 200, 8}};
  static constexpr Schedule schedule{"bridge eintr storms", rules};
  survive(schedule);
}

TEST(FaultBridge, EagainAndShortTransfersOnTheLinkLoseNothing) {
  static constexpr Rule rules[] = {{Call::recv, Effect::fail, EAGAIN, 150, 1},
                                   {Call::recv, Effect::short_transfer, 0, 250, 1},
                                   {Call::send, Effect::fail, EAGAIN, 150, 1},
                                   {Call::send, Effect::short_transfer, 0, 250, 1}};
  static constexpr Schedule schedule{"bridge eagain and short transfers", rules};
  survive(schedule);
}

TEST(FaultBridge, PollsTheKernelEndsAndSubmitRefusalsLoseNothing) {
  static constexpr Rule rules[] = {{Call::uring_submit, Effect::end_poll, 0, 100, 1},
                                   {Call::uring_submit, Effect::fail, EAGAIN, 150, 2}};
  static constexpr Schedule schedule{"bridge io_uring faults", rules};
  survive(schedule);
}
