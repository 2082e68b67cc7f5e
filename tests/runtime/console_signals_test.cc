// SPDX-License-Identifier: MIT
// Windows: the console's control events as signals (runtime/src/signals_windows.cc). Wine gives a headless
// program no console, so GenerateConsoleCtrlEvent cannot raise an event here (ERROR_INVALID_ACCESS); each
// test calls the handler SignalListener::open installs as Windows calls it, on a thread of its own. That
// Windows really calls it is checked end to end: a Ctrl-C (wine turns SIGINT into one) stops emio-echo.exe
// (tests/e2e/echo_windows_test.sh).
#include <windows.h>

#include <csignal>
#include <optional>
#include <thread>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "runtime/src/signals_windows.h"
#include "support/check.h"

using emio::Result;
using emio::SignalListener;
using emio::SignalSet;

namespace {

// What the console's own thread would get back from the handler.
BOOL deliver(DWORD event) {
  BOOL handled = FALSE;
  std::thread console_thread([&] { handled = emio::detail::on_console_event(event); });
  console_thread.join();
  return handled;
}

emio::Task<> next_signal(SignalListener& listener, int& received) {
  Result<int> signal_number = co_await listener.next();
  received = REQUIRE_VALUE(signal_number);
}

}  // namespace

TEST_GROUP(ConsoleSignals) {
  emio::Executor executor;
  std::optional<SignalListener> listener;
  void setup() override { CHECK_OK(executor.init(emio_test::executor_config(2))); }
  // Each test starts where no listener caught anything: the events a closed listener caught stay caught.
  void teardown() override {
    if (listener) CHECK_OK(listener->close_and_restore());
  }
  SignalListener& open(SignalSet signals) {
    listener.emplace(REQUIRE_TAKE(SignalListener::open(executor.handle(), signals)));
    return *listener;
  }
  // The next signal the listener has, once the driver saw it arrive.
  int next_received() {
    return REQUIRE_VALUE(emio_test::retry_while_would_block(executor, [&] { return listener->try_next(); }));
  }
};

TEST(ConsoleSignals, CtrlCArrivesAsSigint) {
  open(SignalSet().with(SIGINT));
  CHECK(deliver(CTRL_C_EVENT));
  CHECK_EQUAL(SIGINT, next_received());
}

TEST(ConsoleSignals, CtrlBreakArrivesAsSigbreak) {
  open(SignalSet().with(SIGBREAK));
  CHECK(deliver(CTRL_BREAK_EVENT));
  CHECK_EQUAL(SIGBREAK, next_received());
}

TEST(ConsoleSignals, ClosingTheConsoleArrivesAsSigterm) {
  open(SignalSet().with(SIGTERM));
  CHECK(deliver(CTRL_CLOSE_EVENT));
  CHECK_EQUAL(SIGTERM, next_received());
}

TEST(ConsoleSignals, AnAwaitedCtrlCResumesTheTask) {
  SignalListener& signals = open(SignalSet::daemon_signals());
  int received = 0;
  Result<emio::TaskId> task = executor.spawn(next_signal(signals, received));
  CHECK_OK(executor.run_once(0));
  CHECK(deliver(CTRL_C_EVENT));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(SIGINT, received);
}

TEST(ConsoleSignals, NoPendingEventWouldBlock) {
  open(SignalSet().with(SIGINT));
  CHECK_ERROR(emio::would_block, listener->try_next().error());
}

TEST(ConsoleSignals, AnEventNobodyListensForIsPassedOn) {
  open(SignalSet().with(SIGINT));
  CHECK_FALSE(deliver(CTRL_BREAK_EVENT));  // to the next handler: ExitProcess, as without emio
  CHECK_ERROR(emio::would_block, listener->try_next().error());
}

TEST(ConsoleSignals, AfterCloseTheEventsStayCaughtAndAreDiscarded) {
  open(SignalSet().with(SIGINT));
  CHECK_OK(listener->close());
  CHECK(deliver(CTRL_C_EVENT));  // a Ctrl-C during the daemon's clean-up does not end it
}

TEST(ConsoleSignals, CloseAndRestorePassesTheEventsOnAgain) {
  open(SignalSet().with(SIGINT));
  CHECK_OK(listener->close_and_restore());
  CHECK_FALSE(deliver(CTRL_C_EVENT));
}

TEST(ConsoleSignals, ASecondListenerIsRefusedWhileOneIsOpen) {
  open(SignalSet().with(SIGINT));
  CHECK_ERROR(emio::Error::from_errno(EBUSY),
              SignalListener::open(executor.handle(), SignalSet().with(SIGBREAK)).error());
}

TEST(ConsoleSignals, ASignalNoConsoleSendsIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL),
              SignalListener::open(executor.handle(), SignalSet().with(SIGSEGV)).error());
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SignalListener::open(executor.handle(), SignalSet()).error());
}

TEST(ConsoleSignals, AListenerOpensAgainAfterTheFirstClosed) {
  open(SignalSet().with(SIGINT));
  CHECK_OK(listener->close());
  open(SignalSet().with(SIGINT));
  CHECK(deliver(CTRL_C_EVENT));
  CHECK_EQUAL(SIGINT, next_received());
}
