// SPDX-License-Identifier: MIT
// What the runtime tests share: an executor configuration, a guarded run loop that fails instead of
// hanging, and byte helpers.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

#include "emio/runtime/runtime.h"
#include "support/check.h"
#include "support/sockets.h"

namespace emio_test {

// Small tables: tests that need more say so.
emio::ExecutorConfig executor_config(uint32_t frame_count = 16, uint32_t task_capacity = 16);

// Runs `executor` until `task` finishes. A deadline far beyond any honest run (tests also run under qemu
// and sanitizers) stops a hung test with a failure instead of hanging ctest.
void run_to_completion(emio::Executor& executor, emio::TaskId task, uint32_t deadline_ms = 60000);
// The same for a spawn result.
void run_to_completion(emio::Executor& executor, emio::Result<emio::TaskId>& spawned, uint32_t deadline_ms = 60000);

inline std::span<const std::byte> bytes_of(std::string_view text) { return std::as_bytes(std::span(text)); }
inline std::string_view text_of(std::span<const std::byte> bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// The value of a Result of a move-only type (a stream, a listener), failing the test when there is none.
template <typename T>
T take_or_fail(emio::Result<T>&& result, const char* file, size_t line) {
  if (!result.ok()) FAIL_TEST_LOCATION(result.error().name(), file, line);
  return std::move(result.value());
}

// Calls `attempt()` until it returns something other than would_block, running executor iterations in
// between; timed_out if that never happens within a generous bound.
template <typename Attempt>
auto retry_while_would_block(emio::Executor& executor, Attempt attempt) -> decltype(attempt()) {
  for (int round = 0; round < 1000; ++round) {
    auto outcome = attempt();
    if (!emio::is_would_block(outcome)) return outcome;
    CHECK_OK(executor.run_once(100));
  }
  return emio::timed_out;
}

// An executor and the read end of a pipe registered with it: where tests of waiting and waking start.
// Use it as TEST_GROUP_BASE(Group, emio_test::PipeReaderGroup).
struct PipeReaderGroup : public Utest {
  emio::Executor executor;
  FdPair pipe;          // pipe.second: the write end the test writes to
  emio::PollFd source;  // pipe.first, registered for reading
  void setup() override;
};

// A loopback address with the kernel's choice of port.
emio::SocketAddress loopback_any_port();

}  // namespace emio_test

#define REQUIRE_TAKE(expression) ::emio_test::take_or_fail((expression), __FILE__, __LINE__)
