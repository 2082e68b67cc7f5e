// SPDX-License-Identifier: MIT
// Signals as driver events, so that a daemon shuts down (SIGTERM, SIGINT), reloads (SIGHUP) or reacts
// to SIGUSR1/SIGUSR2 from its loop instead of inside a signal handler.
//
// Linux: a signalfd. The signals must be blocked in EVERY thread, or the kernel may deliver one to a
// thread that has them unblocked and run its default action (terminate) instead of queuing it for the
// signalfd. SignalListener::open blocks them in the calling thread (pthread_sigmask); threads inherit the
// mask, so open the listener in main() before starting any thread (threads started earlier must block
// the signals themselves).
// Other POSIX systems: a self-pipe written by a sigaction handler (compiled off Linux, and in a kqueue
// build on Linux, which builds what macOS and the BSDs run); one listener per process there.
// Windows: the console's control events (signals_windows.cc): Ctrl-C arrives as SIGINT, Ctrl-Break as
// SIGBREAK, closing the console, logging off and shutting down as SIGTERM (Windows ends the process soon
// after those, whatever the loop does). One listener per process, as for the self-pipe.
//
// Closing never hands the signals back to their default action (terminate) by itself: a daemon that
// stops on the first SIGTERM of a storm must not be killed by the second one while it cleans up (seen:
// exit by signal after "stopped" was printed, and the leak check skipped). close_and_restore() does hand
// them back, for a program that goes on without the listener.
#pragma once

#include <csignal>
#include <cstdint>

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/runtime/poll_fd.h"

namespace emio {

class SignalSet {
 public:
  constexpr SignalSet() = default;
  // SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2: what a daemon listens for (Windows: SIGTERM, SIGINT and
  // SIGBREAK, all a console sends).
  static constexpr SignalSet daemon_signals() {
#if defined(_WIN32)
    return SignalSet().with(SIGTERM).with(SIGINT).with(SIGBREAK);
#else
    return SignalSet().with(SIGTERM).with(SIGINT).with(SIGHUP).with(SIGUSR1).with(SIGUSR2);
#endif
  }
  // Adds `signal_number` (1 to 31). Signals that cannot be caught (SIGKILL, SIGSTOP) or that report a
  // fault of the thread itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL) are refused by SignalListener::open.
  constexpr SignalSet with(int signal_number) const {
    if (signal_number < 1 || signal_number > 31) return SignalSet(bits_ | invalid_bit);
    return SignalSet(bits_ | (uint32_t{1} << signal_number));
  }
  constexpr bool contains(int signal_number) const {
    return signal_number >= 1 && signal_number <= 31 && (bits_ & (uint32_t{1} << signal_number)) != 0;
  }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint32_t bits() const { return bits_; }

 private:
  static constexpr uint32_t invalid_bit = 1;  // bit 0 is no signal: it marks an out-of-range one
  constexpr explicit SignalSet(uint32_t bits) : bits_(bits) {}
  uint32_t bits_ = 0;
};

class SignalListener {
 public:
  SignalListener() = default;
  SignalListener(SignalListener&& other) noexcept;
  SignalListener& operator=(SignalListener&&) = delete;
  SignalListener(const SignalListener&) = delete;
  SignalListener& operator=(const SignalListener&) = delete;
  ~SignalListener() { (void)close(); }

  // Blocks `signals` in the calling thread and starts listening. Errors: EINVAL for an empty set or a
  // signal that cannot be listened for; signalfd's and the driver's errors.
  static Result<SignalListener> open(Handle handle, SignalSet signals);

  // The next pending signal's number, or would_block when none is pending.
  Result<int> try_next();
  // Awaitable: Result<int>, the next signal.
  auto next() {
    return make_io_op<Result<int>>(registration(), Direction::read, [this] { return try_next(); });
  }

  Registration registration() const { return source_.registration(); }
  int fd() const { return source_.fd(); }
  bool is_open() const { return source_.is_open(); }
  // Stops listening and drops what is pending. The signals stay blocked (Linux) or caught and discarded
  // (self-pipe), so one that arrives later does nothing. Safe to call twice; the destructor calls it.
  Error close();
  // close() if still open, then restores the calling thread's mask (Linux) or the handlers (self-pipe)
  // from before open(); also after close(). A signal that arrives between the two runs its previous
  // action, terminate by default. A listener opened after another's close() finds the signals blocked
  // (Linux) and restores that; the self-pipe version remembers the handlers from before emio's own.
  // A signal another open listener waits for stays blocked. Two signalfd listeners for one signal: each
  // arrival goes to the one that reads it first, not to both (signalfd(2)).
  Error close_and_restore();

 private:
  PollFd source_;
  SignalSet signals_;
#if !defined(_WIN32)  // Windows has no signal masks
  sigset_t previous_mask_{};
#endif
  bool holds_previous_ = false;  // open() saved what close_and_restore() puts back, and it has not yet
};

}  // namespace emio
