// SPDX-License-Identifier: MIT
#include "runtime/runtime_fixture.h"

#include "support/check.h"
#include "support/driver_fixture.h"

namespace emio_test {

emio::ExecutorConfig executor_config(uint32_t frame_count, uint32_t task_capacity) {
  emio::ExecutorConfig config;
  config.driver = driver_config(64, 16);  // on the backend main.cc runs this pass on
  config.task_capacity = task_capacity;
  config.timer_capacity = 32;
  config.frame_size_bytes = 2048;
  config.frame_count = frame_count;
  config.inbox_capacity = 8;
  return config;
}

void run_to_completion(emio::Executor& executor, emio::TaskId task, uint32_t deadline_ms) {
  emio::Timer guard;
  CHECK_OK(executor.timers().start_once(
      guard, deadline_ms, [](emio::Timer&, void* context) { static_cast<emio::Executor*>(context)->stop(); },
      &executor));
  const emio::Error ran = executor.run_until(task);
  if (ran == emio::Error::from_errno(ECANCELED)) FAIL("the task did not finish before the test's deadline");
  CHECK_OK(ran);
}

void run_to_completion(emio::Executor& executor, emio::Result<emio::TaskId>& spawned, uint32_t deadline_ms) {
  run_to_completion(executor, REQUIRE_VALUE(spawned), deadline_ms);
}

void PipeReaderGroup::setup() {
  CHECK_OK(executor.init(executor_config(4)));
  pipe = make_pipe();
  source = REQUIRE_TAKE(emio::PollFd::adopt(executor.handle(), std::move(pipe.first), emio::Interest::readable));
}

emio::SocketAddress loopback_any_port() { return REQUIRE_VALUE(emio::SocketAddress::parse("127.0.0.1:0")); }

}  // namespace emio_test
