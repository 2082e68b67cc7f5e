// SPDX-License-Identifier: MIT
// POSIX systems without signalfd: a sigaction handler writes the signal's number into a pipe whose read
// end the driver watches (the self-pipe trick). Compiled off Linux, and in a kqueue build on Linux. One
// listener per process: the handler has nowhere else to find the pipe.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <utility>

#include "signals_common.h"

namespace emio {
namespace {

std::atomic<int> pipe_write_end{-1};
struct sigaction previous_actions[32];

void on_signal(int signal_number) {
  const int saved_errno = errno;  // a handler must leave errno as it found it
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  // Non-blocking: if the pipe is full, enough wake-ups are already queued. After close() the end is -1
  // and the signal is discarded (write fails with EBADF).
  (void)!::write(pipe_write_end.load(std::memory_order_relaxed), &byte, 1);
  errno = saved_errno;
}

void restore_actions(SignalSet signals) {
  for (int signal_number = 1; signal_number <= 31; ++signal_number) {
    if (signals.contains(signal_number)) (void)::sigaction(signal_number, &previous_actions[signal_number], nullptr);
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
  int ends[2];
  if (::pipe(ends) < 0) return Error::last_os_error();
  Fd read_end(ends[0]);
  Fd write_end(ends[1]);
  if (Error error = set_nonblocking(write_end.get()); error.failed()) return error;
  int expected = -1;
  if (!pipe_write_end.compare_exchange_strong(expected, write_end.get())) return Error::from_errno(EBUSY);
  Result<PollFd> source = PollFd::adopt(handle, std::move(read_end), Interest::readable);
  if (!source.ok()) {
    pipe_write_end.store(-1);
    return source.error();
  }
  struct sigaction action {};
  action.sa_handler = &on_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (int signal_number = 1; signal_number <= 31; ++signal_number) {
    if (!signals.contains(signal_number)) continue;
    struct sigaction before {};
    (void)::sigaction(signal_number, &action, &before);
    // An earlier listener's close() left on_signal installed: what comes back is what was there before it.
    if (before.sa_handler != &on_signal) previous_actions[signal_number] = before;
  }
  (void)write_end.release();  // owned by pipe_write_end until close()
  SignalListener listener;
  listener.source_ = std::move(source.value());
  listener.signals_ = signals;
  sigemptyset(&listener.previous_mask_);
  listener.holds_previous_ = true;
  return listener;
}

Result<int> SignalListener::try_next() {
  unsigned char signal_number = 0;
  Result<size_t> got = source_.try_io(Direction::read, [&] { return ::read(fd(), &signal_number, 1); });
  if (!got.ok()) return got.error();
  return static_cast<int>(signal_number);
}

Error SignalListener::close() {
  if (!source_.is_open()) return Error{};
  Fd write_end(pipe_write_end.exchange(-1));  // the handler stays installed and now discards
  return source_.close();
}

Error SignalListener::close_and_restore() {
  const Error closed = close();
  if (holds_previous_) restore_actions(signals_);
  holds_previous_ = false;
  return closed;
}

}  // namespace emio
