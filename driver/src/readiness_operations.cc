// SPDX-License-Identifier: MIT
#include "emio/driver/readiness_operations.h"

#if !defined(_WIN32)
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <new>

#include "emio/driver/scheduled_io.h"
#include "emio/port/clock.h"
#include "emio/port/socket.h"

namespace emio {
namespace {

int32_t from_syscall(ssize_t returned) { return returned < 0 ? -errno : static_cast<int32_t>(returned); }

// The system calls, in POSIX's shape. On Windows every source is a socket (port/socket.h): reads and
// writes are its receives and sends, and Winsock's calls take char buffers.
#if defined(_WIN32)
ssize_t receive_from(int fd, void* buffer, size_t length) { return recv_some(fd, buffer, length); }
ssize_t send_to(int fd, const void* data, size_t length) { return send_some(fd, data, length); }
ssize_t read_from(int fd, void* buffer, size_t length) { return recv_some(fd, buffer, length); }
ssize_t write_to(int fd, const void* data, size_t length) { return send_some(fd, data, length); }
int connect_to(int fd, const sockaddr* address, socklen_t length) { return connect_nonblocking(fd, address, length); }
int close_fd(int fd) { return close_socket(fd); }
int failed_with_socket_error() {
  errno = Error::last_socket_error().value();
  return -1;
}
// SO_ERROR holds a Winsock code (WSAECONNREFUSED): its errno twin, as every result here is.
int pending_error(int fd, int& error) {
  int code = 0;
  socklen_t length = sizeof code;
  if (::getsockopt(socket_of_fd(fd), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&code), &length) != 0) {
    return failed_with_socket_error();
  }
  error = Error::from_windows(static_cast<unsigned long>(code)).value();
  return 0;
}
int peer_name(int fd, sockaddr* address, socklen_t* length) {
  return ::getpeername(socket_of_fd(fd), address, length) == 0 ? 0 : failed_with_socket_error();
}
#else
ssize_t receive_from(int fd, void* buffer, size_t length) { return ::recv(fd, buffer, length, 0); }
ssize_t send_to(int fd, const void* data, size_t length) { return ::send(fd, data, length, send_flags_no_sigpipe); }
ssize_t read_from(int fd, void* buffer, size_t length) { return ::read(fd, buffer, length); }
ssize_t write_to(int fd, const void* data, size_t length) { return ::write(fd, data, length); }
int connect_to(int fd, const sockaddr* address, socklen_t length) { return ::connect(fd, address, length); }
int close_fd(int fd) { return ::close(fd); }
int pending_error(int fd, int& error) {
  socklen_t length = sizeof error;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
}
int peer_name(int fd, sockaddr* address, socklen_t* length) { return ::getpeername(fd, address, length); }
#endif

// An operation's result is -errno; emio's own refusals of its registration map onto the nearest one.
int32_t result_of(Error error) {
  if (error.is_os_error()) return -error.value();
  return error == Error::shut_down ? -ECANCELED : -ENOBUFS;
}

Direction direction_of(OpKind kind) {
  switch (kind) {
    case OpKind::accept:
    case OpKind::accept_multishot:
    case OpKind::recv:
    case OpKind::recv_multishot:
    case OpKind::read:
      return Direction::read;
    default:
      return Direction::write;
  }
}

bool is_multishot(OpKind kind) { return kind == OpKind::accept_multishot || kind == OpKind::recv_multishot; }

// A connect that said EINPROGRESS has finished when the socket turns writable; SO_ERROR says how.
int32_t connect_outcome(const Operation& op) {
  int error = 0;
  if (pending_error(op.source->fd, error) < 0) return -errno;
  if (error != 0) return -error;
  // No error, yet not connected: the attempt failed and its SO_ERROR was read before us (libkqueue reads
  // it into the event it reports). ENOTCONN says so instead of a success.
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  if (peer_name(op.source->fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) < 0) return -errno;
  return 0;
}

// One non-blocking attempt; -EAGAIN when the source is not ready.
int32_t perform(Operation& op) {
  const int fd = op.source->fd;
  for (;;) {
    ssize_t returned = 0;
    switch (op.kind) {
      case OpKind::accept:
      case OpKind::accept_multishot:
        returned = accept_nonblocking(fd, op.address, op.address != nullptr ? &op.address_length : nullptr);
        break;
      case OpKind::connect:
        if (op.connect_started) return connect_outcome(op);
        returned = connect_to(fd, op.address, op.address_length);
        if (returned < 0 && errno == EINPROGRESS) {
          op.connect_started = true;
          return -EAGAIN;
        }
        break;
      case OpKind::recv:
      case OpKind::recv_multishot:
        returned = receive_from(fd, op.buffer, op.length);
        break;
      case OpKind::send:
        returned = send_to(fd, op.buffer, op.length);
        break;
      case OpKind::read:
        returned = read_from(fd, op.buffer, op.length);
        break;
      case OpKind::write:
        returned = write_to(fd, op.buffer, op.length);
        break;
      default:
        return -EINVAL;
    }
    const int32_t result = from_syscall(returned);
    if (result != -EINTR) return result == -EWOULDBLOCK ? -EAGAIN : result;
  }
}

}  // namespace

Error ReadinessOperations::init(OperationLedger* ledger, Handle handle, uint32_t receive_buffer_size) {
  ledger_ = ledger;
  handle_ = handle;
  if (receive_buffer_size == 0) return Error{};
  receive_buffer_ = new (std::nothrow) std::byte[receive_buffer_size];
  if (receive_buffer_ == nullptr) return Error::no_storage;
  receive_buffer_size_ = receive_buffer_size;
  return Error{};
}

void ReadinessOperations::submit(Operation& op) {
  op.engine = this;
  op.connect_started = false;
  if (op.kind == OpKind::timeout) {
    op.timer.deadline_ns = monotonic_now_ns() + op.timeout_ns;
    op.state = OpState::timing;
    timers_ += 1;
    return;
  }
  op.state = OpState::queued;
  queued_ += 1;
}

int ReadinessOperations::clamp_wait_ms(int max_wait_ms) const {
  if (queued_ > 0) return 0;
  if (timers_ == 0) return max_wait_ms;
  const uint64_t now = monotonic_now_ns();
  uint64_t nearest_ns = UINT64_MAX;
  for (const Operation* op = ledger_->first(); op != nullptr; op = op->next) {
    if (op->state == OpState::timing && op->timer.deadline_ns < nearest_ns) nearest_ns = op->timer.deadline_ns;
  }
  if (nearest_ns <= now) return 0;
  // Rounded up: waking a millisecond early would only spin through another turn.
  const uint64_t wait_ms = (nearest_ns - now + 999999u) / 1000000u;
  if (max_wait_ms >= 0 && static_cast<uint64_t>(max_wait_ms) < wait_ms) return max_wait_ms;
  return wait_ms > INT32_MAX ? INT32_MAX : static_cast<int>(wait_ms);
}

void ReadinessOperations::run() {
  if (queued_ == 0 && timers_ == 0) return;
  // Gather first, then run: a completion may cancel, finish or resubmit any record of the list.
  const uint64_t now = monotonic_now_ns();
  Operation* due = nullptr;
  for (Operation* op = ledger_->first(); op != nullptr; op = op->next) {
    if (op->state == OpState::queued || (op->state == OpState::timing && op->timer.deadline_ns <= now)) {
      op->due_next = due;
      due = op;
    }
  }
  while (due != nullptr) {
    Operation& op = *due;
    due = op.due_next;
    if (op.state == OpState::timing && op.timer.deadline_ns <= now) {
      timers_ -= 1;
      ledger_->finish(op, 0);
    } else if (op.state == OpState::queued) {
      queued_ -= 1;
      attempt(op);
    }
  }
}

void ReadinessOperations::on_source_ready(void* context) {
  auto& op = *static_cast<Operation*>(context);
  static_cast<ReadinessOperations*>(op.engine)->attempt(op);
}

Result<ScheduledIo*> ReadinessOperations::registration_of(Operation& op) {
  OpSource& source = *op.source;
  if (source.registration.io != nullptr) return source.registration.io;
  // Registered at the first EAGAIN, not at attach: an unconnected TCP socket reports a (final) hang-up
  // to epoll, and a connect in progress reports nothing until it completes.
  Result<Registration> added = handle_.add_source(source.fd, Interest::readable | Interest::writable);
  if (!added.ok()) return added.error();
  source.registration = added.value();
  return source.registration.io;
}

void ReadinessOperations::attempt(Operation& op) {
  if (op.kind == OpKind::cancel) return cancel(op);
  if (op.kind == OpKind::close) {
    OpSource& source = *op.source;
    if (source.registration.io != nullptr) (void)handle_.deregister(source.registration);
    source.registration = Registration{};
    const int32_t result = from_syscall(close_fd(source.fd));
    source.fd = -1;  // gone even on error (close(2))
    return ledger_->finish(op, result);
  }
  if (op.kind == OpKind::recv_multishot) {
    if (receive_buffer_ == nullptr) return ledger_->finish(op, -ENOBUFS);
    op.buffer = receive_buffer_;
    op.length = receive_buffer_size_;
  }
  const Direction direction = direction_of(op.kind);
  // A source stuck ready while its call says EAGAIN (a final state) must not spin the driver; and a
  // multishot operation on a busy source gives the others a turn after a batch.
  for (int attempts = 0; attempts < 16; ++attempts) {
    ScheduledIo* io = op.source->registration.io;
    const ReadyEvent seen = io != nullptr ? io->readiness(direction) : ReadyEvent{};
    const int32_t result = perform(op);
    if (result != -EAGAIN) {
      if (!deliver_one(op, result)) return;
      continue;
    }
    Result<ScheduledIo*> registered = registration_of(op);
    if (!registered.ok()) return ledger_->finish(op, result_of(registered.error()));
    io = registered.value();
    io->clear_readiness(seen);
    const ReadyEvent now = io->poll_ready(direction, Waker{on_source_ready, &op});
    if (now.shut_down) {
      io->clear_waker(direction);
      return ledger_->finish(op, -ECANCELED);
    }
    if (!now.is_ready()) {
      op.state = OpState::waiting;
      return;
    }
  }
  if (is_multishot(op.kind)) {
    op.state = OpState::queued;  // more may be waiting: back at the next turn
    queued_ += 1;
    return;
  }
  ledger_->finish(op, -EAGAIN);
}

// Completes `op` with `result`; for a multishot operation that goes on, delivers it instead and says
// so (true: try again).
bool ReadinessOperations::deliver_one(Operation& op, int32_t result) {
  const bool goes_on = is_multishot(op.kind) && (op.kind == OpKind::accept_multishot ? result >= 0 : result > 0);
  if (!goes_on) {
    ledger_->finish(op, result);
    return false;
  }
  OperationLedger::deliver(op, result);
  // The callback may have cancelled it (a cancel completes it at once on this backend).
  return op.in_flight();
}

void ReadinessOperations::cancel(Operation& canceller) {
  Operation& target = *canceller.target;
  if (&target == &canceller || !target.in_flight() || target.engine != this) {
    return ledger_->finish(canceller, -ENOENT);
  }
  if (target.state == OpState::waiting) target.source->registration.io->clear_waker(direction_of(target.kind));
  if (target.state == OpState::queued) queued_ -= 1;
  if (target.state == OpState::timing) timers_ -= 1;
  ledger_->finish(target, -ECANCELED);
  ledger_->finish(canceller, 0);
}

void ReadinessOperations::cancel_all() {
  // This engine's only: on IOCP a native operation the system never completed stays in flight (its
  // record may still be written). From the head each time: a completion may finish others.
  for (;;) {
    Operation* op = ledger_->first();
    while (op != nullptr && op->engine != this) op = op->next;
    if (op == nullptr) break;
    if (op->state == OpState::waiting) op->source->registration.io->clear_waker(direction_of(op->kind));
    ledger_->finish(*op, -ECANCELED);
  }
  queued_ = 0;
  timers_ = 0;
}

}  // namespace emio
