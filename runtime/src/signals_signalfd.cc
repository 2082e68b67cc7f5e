// SPDX-License-Identifier: MIT
// Linux: signals arrive on a signalfd, which the driver watches like any other fd.
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <utility>

#include "signals_common.h"

namespace emio {
namespace {

// Open listeners per signal, in the whole process: close_and_restore() must not unblock a signal that
// another listener still waits for (found by review: the signal then ran its default action, killing
// the process, while that listener was open).
std::atomic<uint16_t> open_listeners[32];

void count_listeners(SignalSet signals, int change) {
  for (int signal_number = 1; signal_number <= 31; ++signal_number) {
    if (signals.contains(signal_number)) open_listeners[signal_number].fetch_add(change, std::memory_order_relaxed);
  }
}

}  // namespace

SignalListener::SignalListener(SignalListener&& other) noexcept
    : source_(std::move(other.source_)),
      signals_(other.signals_),
      previous_mask_(other.previous_mask_),
      holds_previous_(std::exchange(other.holds_previous_, false)) {}

Result<SignalListener> SignalListener::open(Handle handle, SignalSet signals) {
  if (!detail::listenable(signals)) return Error::from_errno(EINVAL);
  sigset_t mask;
  detail::fill_mask(signals, mask);
  SignalListener listener;
  listener.signals_ = signals;
  // Blocked first: a signal that arrives from here on stays pending for the signalfd instead of running
  // its default action.
  if (const int failed = ::pthread_sigmask(SIG_BLOCK, &mask, &listener.previous_mask_); failed != 0) {
    return Error::from_errno(failed);
  }
  const int fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    const Error error = Error::last_os_error();
    (void)::pthread_sigmask(SIG_SETMASK, &listener.previous_mask_, nullptr);
    return error;
  }
  Result<PollFd> source = PollFd::adopt(handle, Fd(fd), Interest::readable);
  if (!source.ok()) {
    (void)::pthread_sigmask(SIG_SETMASK, &listener.previous_mask_, nullptr);
    return source.error();
  }
  listener.source_ = std::move(source.value());
  listener.holds_previous_ = true;
  count_listeners(signals, 1);
  return listener;
}

Result<int> SignalListener::try_next() {
  signalfd_siginfo info{};
  Result<size_t> got = source_.try_io(Direction::read, [&] { return ::read(fd(), &info, sizeof info); });
  if (!got.ok()) return got.error();
  return static_cast<int>(info.ssi_signo);
}

Error SignalListener::close() {
  if (!source_.is_open()) return Error{};
  while (try_next().ok()) {  // dropped: nobody listens any more
  }
  count_listeners(signals_, -1);
  return source_.close();  // the signals stay blocked: a later one stays pending, harmless
}

Error SignalListener::close_and_restore() {
  const Error closed = close();
  if (holds_previous_) {
    sigset_t restored = previous_mask_;
    for (int signal_number = 1; signal_number <= 31; ++signal_number) {
      if (open_listeners[signal_number].load(std::memory_order_relaxed) > 0) sigaddset(&restored, signal_number);
    }
    (void)::pthread_sigmask(SIG_SETMASK, &restored, nullptr);
  }
  holds_previous_ = false;
  return closed;
}

}  // namespace emio
