// SPDX-License-Identifier: MIT
#include "fault/bridge_fault_fixture.h"

#include <algorithm>
#include <utility>

#include "emio/port/clock.h"
#include "fault/echo_traffic.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Error;
using emio::Result;
using emio::Task;
using emio::TcpStream;

namespace emio_fault_test {
namespace {

constexpr uint32_t bridged_bytes = 48 * 1024;
constexpr uint32_t stream_id = 77;
constexpr uint32_t run_deadline_ms = 20000;

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
  if (bridge.keep_uplink_in != nullptr) *bridge.keep_uplink_in = std::move(bridge.uplink);
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

// Everything the bridge holds, closed.
void close(Bridge& bridge) {
  (void)bridge.uart_in.read_end.close();
  (void)bridge.uart_in.write_end.close();
  (void)bridge.uart_out.read_end.close();
  (void)bridge.uart_out.write_end.close();
  (void)bridge.uplink.close();
  (void)bridge.downlink.close();
}

}  // namespace

void BridgeFaultFixture::setup() {
  CHECK_OK(executor_.init(emio_test::executor_config(16, 16)));
  listener_ = REQUIRE_TAKE(emio::TcpListener::bind(executor_.handle(), emio_test::loopback_any_port()));
}

void BridgeFaultFixture::teardown() {
  emio_fault::disarm();
  close(faulted_bridge_);
  close(clean_bridge_);
  (void)kept_uplink_.close();
}

// The bridge's connection and pipes, made before any fault.
void BridgeFaultFixture::open(Bridge& bridge) {
  bridge.uplink = REQUIRE_TAKE(TcpStream::connect_start(executor_.handle(), REQUIRE_VALUE(listener_.local_address())));
  for (int attempt = 0; attempt < 1000 && !bridge.downlink.is_open(); ++attempt) {
    CHECK_OK(executor_.run_once(10));
    Result<TcpStream> accepted = listener_.try_accept();
    if (accepted.ok()) bridge.downlink = std::move(accepted.value());
  }
  bridge.uart_in = REQUIRE_TAKE(emio::Pipe::open(executor_.handle()));
  bridge.uart_out = REQUIRE_TAKE(emio::Pipe::open(executor_.handle()));
  if (plant_kept_uplink_) bridge.keep_uplink_in = &kept_uplink_;
}

Findings BridgeFaultFixture::run_bridge(Bridge& bridge, const emio_fault::Schedule* schedule) {
  const int fds_before = emio_test::settled_fd_count();
  const uint32_t registrations_before = executor_.driver().live_registrations();
  open(bridge);
  Findings found;
  found.add_if(!executor_.spawn(feed(bridge)).ok(), Finding::server_failed);
  found.add_if(!executor_.spawn(pump_uart_to_tcp(bridge)).ok(), Finding::server_failed);
  found.add_if(!executor_.spawn(pump_tcp_to_uart(bridge)).ok(), Finding::server_failed);
  found.add_if(!executor_.spawn(check(bridge)).ok(), Finding::server_failed);
  if (schedule != nullptr) emio_fault::arm(*schedule, seed_);
  const uint64_t give_up_ms = emio::monotonic_now_ms() + run_deadline_ms;
  Error turned{};
  while ((!bridge.ended || executor_.live_tasks() > 0) && turned.ok() && emio::monotonic_now_ms() < give_up_ms) {
    turned = executor_.run_once(10);
  }
  if (schedule != nullptr) {
    injected_ = emio_fault::injected();
    UT_PRINT(StringFromFormat("%s: %llu faults injected", schedule->name, static_cast<unsigned long long>(injected_)));
  }
  emio_fault::disarm();
  found.add_if(turned.failed(), Finding::turn_failed);
  found.add_if(bridge.failure.failed(), Finding::server_failed);
  found.add_if(!bridge.ended, Finding::round_unfinished);
  found.add_if(bridge.checked_bytes < bridged_bytes, Finding::bytes_missing);
  found.add_if(bridge.checked_bytes > bridged_bytes, Finding::bytes_extra);
  found.add_if(bridge.wrong_bytes != 0, Finding::bytes_differ);
  found.add_if(executor_.live_tasks() != 0, Finding::tasks_leaked);
  found.add_if(executor_.frame_pool().frames_in_use() != 0, Finding::frames_leaked);
  close(bridge);
  found.add_if(executor_.driver().live_registrations() != registrations_before, Finding::registrations_leaked);
  found.add_if(emio_test::settled_fd_count() != fds_before, Finding::fds_leaked);
  return found;
}

Findings BridgeFaultFixture::examine(const emio_fault::Schedule& schedule) {
  Findings found = run_bridge(faulted_bridge_, &schedule);
  found.add_if(!run_bridge(clean_bridge_, nullptr).none(), Finding::stopped_serving);
  return found;
}

void BridgeFaultFixture::survive(const emio_fault::Schedule& schedule) {
  const Findings found = examine(schedule);
  CHECK_NO_FINDINGS(found, seed_);
}

}  // namespace emio_fault_test
