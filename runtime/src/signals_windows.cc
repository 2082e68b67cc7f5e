// SPDX-License-Identifier: MIT
// Windows: the console's control events as signals. Windows runs a console control handler
// (SetConsoleCtrlHandler) on a thread of its own for each event; the handler sends the event's signal
// number as one byte over a loopback UDP pair whose receiving end the driver watches, as the self-pipe
// does on POSIX (IOCP polls sockets only, so a socket pair stands in for the pipe). It runs as a thread,
// not in a signal context, so it may take a lock and make any call. One listener per process: the
// handler has nowhere else to find the pair.
//   CTRL_C_EVENT: SIGINT. CTRL_BREAK_EVENT: SIGBREAK. CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT and
//   CTRL_SHUTDOWN_EVENT: SIGTERM (Windows ends the process soon after the handler returns for those).
#include <windows.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <utility>

#include "emio/port/mutex.h"
#include "emio/port/socket.h"
#include "emio/runtime/signals.h"
#include "emio/runtime/socket_calls.h"
#include "signals_windows.h"
#include "socket_ops.h"

namespace emio {
namespace {

// The sending end of the open listener's pair (-1: none), and the signals it listens for. Both stay
// as close() leaves them until close_and_restore(): the events stay caught, and are discarded.
Mutex sender_lock;
int sender_fd = -1;  // guarded by sender_lock
std::atomic<uint32_t> caught_signals{0};
std::atomic<bool> handler_installed{false};

int signal_of_event(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
      return SIGINT;
    case CTRL_BREAK_EVENT:
      return SIGBREAK;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      return SIGTERM;
    default:
      return 0;
  }
}

}  // namespace

BOOL WINAPI detail::on_console_event(DWORD event) {
  const int signal_number = signal_of_event(event);
  const SignalSet caught = SignalSet().with(signal_number);
  if (signal_number == 0 || (caught_signals.load(std::memory_order_acquire) & caught.bits()) == 0) return FALSE;
  const std::lock_guard<Mutex> guard(sender_lock);
  // A full socket buffer means enough wake-ups are queued; after close() the event is discarded.
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  if (sender_fd >= 0) (void)detail::send_fd(sender_fd, &byte, 1);
  return TRUE;
}

namespace {

// What a console can send.
bool listenable(SignalSet signals) {
  const SignalSet deliverable = SignalSet().with(SIGINT).with(SIGBREAK).with(SIGTERM);
  return !signals.empty() && (signals.bits() & ~deliverable.bits()) == 0;
}

struct LoopbackPair {
  Fd receiver;
  Fd sender;
};

// A UDP socket bound on 127.0.0.1 and one connected to it: what the handler sends on, and what the
// driver watches.
Result<LoopbackPair> loopback_pair() {
  sockaddr_in loopback{};
  loopback.sin_family = AF_INET;
  loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Result<Fd> receiver = detail::open_socket(AF_INET, SOCK_DGRAM);
  if (!receiver.ok()) return receiver.error();
  const SocketAddress any_port =
      SocketAddress::from_native(reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback);
  if (Error error = detail::bind_socket(receiver.value().get(), any_port); error.failed()) return error;
  Result<SocketAddress> bound = detail::socket_name(receiver.value().get(), false);
  if (!bound.ok()) return bound.error();
  Result<Fd> sender = detail::open_socket(AF_INET, SOCK_DGRAM);
  if (!sender.ok()) return sender.error();
  if (detail::connect_fd(sender.value().get(), bound.value().native(), bound.value().native_length()) < 0) {
    return Error::last_os_error();
  }
  return LoopbackPair{std::move(receiver.value()), std::move(sender.value())};
}

}  // namespace

SignalListener::SignalListener(SignalListener&& other) noexcept
    : source_(std::move(other.source_)),
      signals_(other.signals_),
      holds_previous_(std::exchange(other.holds_previous_, false)) {}

Result<SignalListener> SignalListener::open(Handle handle, SignalSet signals) {
  if (!listenable(signals)) return Error::from_errno(EINVAL);
  Result<LoopbackPair> pair = loopback_pair();
  if (!pair.ok()) return pair.error();
  // Installed once and kept: until a listener catches an event, the handler passes it on (FALSE).
  if (!handler_installed.exchange(true) && ::SetConsoleCtrlHandler(&detail::on_console_event, TRUE) == 0) {
    handler_installed.store(false);
    return Error::last_windows_error();
  }
  const std::lock_guard<Mutex> guard(sender_lock);
  if (sender_fd >= 0) return Error::from_errno(EBUSY);
  Result<PollFd> source = PollFd::adopt(handle, std::move(pair.value().receiver), Interest::readable);
  if (!source.ok()) return source.error();
  sender_fd = pair.value().sender.release();  // owned by sender_fd until close()
  caught_signals.fetch_or(signals.bits(), std::memory_order_release);
  SignalListener listener;
  listener.source_ = std::move(source.value());
  listener.signals_ = signals;
  listener.holds_previous_ = true;
  return listener;
}

Result<int> SignalListener::try_next() {
  unsigned char signal_number = 0;
  Result<size_t> got = source_.try_io(Direction::read, [&] { return detail::recv_fd(fd(), &signal_number, 1); });
  if (!got.ok()) return got.error();
  return static_cast<int>(signal_number);
}

Error SignalListener::close() {
  if (!source_.is_open()) return Error{};
  {
    const std::lock_guard<Mutex> guard(sender_lock);
    Fd sender(std::exchange(sender_fd, -1));  // the handler stays installed and now discards
  }
  return source_.close();
}

Error SignalListener::close_and_restore() {
  const Error closed = close();
  if (holds_previous_) {
    caught_signals.fetch_and(~signals_.bits(), std::memory_order_release);
    if (handler_installed.exchange(false)) (void)::SetConsoleCtrlHandler(&detail::on_console_event, FALSE);
  }
  holds_previous_ = false;
  return closed;
}

}  // namespace emio
