// SPDX-License-Identifier: MIT
// A daemon's signals as a task: SIGTERM and SIGINT stop the executor; any other signal in the set goes
// to the daemon's handler (SIGHUP: reload). The signals arrive through the driver (signalfd), so the
// handler runs on the executor's thread like any task, not inside a signal handler.
#pragma once

#include <optional>

#include "emio/runtime/executor.h"
#include "emio/runtime/signals.h"
#include "emio/runtime/task.h"

namespace emio_examples {

using SignalHandler = void (*)(int signal_number, void* context);

// Blocks and listens for SIGTERM, SIGINT and `extra` (open it in main(), before any thread starts), and
// spawns the task that dispatches them. Prints "PROGRAM: cannot listen for signals: REASON" on failure.
bool start_signal_task(const char* program, emio::Executor& executor, std::optional<emio::SignalListener>& listener,
                       emio::SignalSet extra = {}, SignalHandler handler = nullptr, void* context = nullptr);

}  // namespace emio_examples
