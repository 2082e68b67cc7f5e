// SPDX-License-Identifier: MIT
#include "common/signal_task.h"

#include <csignal>
#include <cstdio>
#include <utility>

#include "emio/port/log.h"

namespace emio_examples {
namespace {

emio::Task<> dispatch_signals(emio::Executor& executor, emio::SignalListener& listener, SignalHandler handler,
                              void* context) {
  for (;;) {
    emio::Result<int> received = co_await listener.next();
    if (!received.ok()) {
      if (received.error() != emio::Error::shut_down) {
        emio::log_message(emio::LogLevel::error, "signals: %s (%s)", received.error().name(),
                          received.error().description());
        executor.stop();
      }
      co_return;
    }
    const int signal_number = received.value();
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      executor.stop();
      co_return;
    }
    if (handler != nullptr) handler(signal_number, context);
  }
}

}  // namespace

bool start_signal_task(const char* program, emio::Executor& executor, std::optional<emio::SignalListener>& listener,
                       emio::SignalSet extra, SignalHandler handler, void* context) {
  emio::SignalSet wanted = extra.with(SIGTERM).with(SIGINT);
  emio::Result<emio::SignalListener> opened = emio::SignalListener::open(executor.handle(), wanted);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s: cannot listen for signals: %s (%s)\n", program, opened.error().name(),
                 opened.error().description());
    return false;
  }
  listener.emplace(std::move(opened.value()));
  emio::Result<emio::TaskId> spawned = executor.spawn(dispatch_signals(executor, *listener, handler, context));
  if (spawned.ok()) return true;
  std::fprintf(stderr, "%s: cannot listen for signals: %s (%s)\n", program, spawned.error().name(),
               spawned.error().description());
  return false;
}

}  // namespace emio_examples
