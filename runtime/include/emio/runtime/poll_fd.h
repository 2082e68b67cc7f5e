// SPDX-License-Identifier: MIT
// PollFd: any pollable file descriptor (GPIO character device, netlink, SocketCAN, timerfd, a pipe end,
// a tty), owned, non-blocking and registered with the driver. Every IO resource is built on one.
//
// try_ operations do the system call once and return Result<size_t>: a count, would_block (EAGAIN, after
// clearing the readiness the call saw, so the next event is not lost), or the OS error. The awaitable
// forms (read, write, readable, writable) retry on readiness inside an emio::Task. A resource must not be
// moved or closed while one of its operations is being awaited.
//
// Fork: the registration belongs to the parent's driver; a child closes its copies and starts afresh.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "emio/driver/handle.h"
#include "emio/driver/interest.h"
#include "emio/driver/registration.h"
#include "emio/driver/scheduled_io.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "emio/port/result.h"
#include "emio/runtime/awaitables.h"
#include "emio/runtime/errors.h"
#include "emio/runtime/task.h"

namespace emio {

// Where an operation on one direction of a source stands before its system call (readiness_gate).
enum class IoGate : uint8_t { go, wait, stale, shut_down };

// Readiness first, as Tokio's poll_read does: a direction known not to be ready parks without a system
// call that would only say EAGAIN again (a fresh registration learns its state from the event the next
// turn brings). go: try the call now, `seen` is the readiness word to clear from if it drains the
// direction or says EAGAIN; wait: `waker` is stored; stale: the registration is gone (closed,
// deregistered); shut_down: the driver is. One load of the readiness word decides the common case (ready,
// live, no waker stored or running); only the others go through ScheduledIo::poll_ready, so a transfer
// that need not wait builds no ReadyEvent and stores no waker (bench/results/lean-path.md).
template <Direction direction>
inline IoGate readiness_gate(const Registration& registration, const Waker& waker, uint64_t& seen) {
  constexpr bool reading = direction == Direction::read;
  constexpr uint64_t ready_bits = (reading ? ScheduledIo::read_mask : ScheduledIo::write_mask).bits();
  // A stored or running waker must be cleared before the operation completes (the waker contract), and
  // a shutdown must be reported: poll_ready does both.
  constexpr uint64_t slow_bits = ScheduledIo::shut_down_bit | ScheduledIo::waker_running_bit |
                                 (reading ? ScheduledIo::reader_waiting_bit : ScheduledIo::writer_waiting_bit);
  if (registration.io == nullptr) return IoGate::stale;
  ScheduledIo& io = *registration.io;
  seen = io.snapshot();
  if ((seen >> ScheduledIo::generation_shift) != registration.token.generation()) return IoGate::stale;
  if ((seen & ready_bits) != 0 && (seen & slow_bits) == 0) return IoGate::go;
  const ReadyEvent event = io.poll_ready(direction, waker);
  if (event.shut_down) return IoGate::shut_down;
  if (!event.is_ready()) return IoGate::wait;
  seen = io.snapshot();
  return IoGate::go;
}

inline IoGate readiness_gate(const Registration& registration, Direction direction, const Waker& waker,
                             uint64_t& seen) {
  return direction == Direction::read ? readiness_gate<Direction::read>(registration, waker, seen)
                                      : readiness_gate<Direction::write>(registration, waker, seen);
}

// What an operation reports for a gate that neither goes nor waits.
inline Error gate_error(IoGate gate) { return gate == IoGate::stale ? Error::stale_token : Error::shut_down; }

// Rounds of readiness_gate and attempt an operation makes per poll. A few cover an event that lands
// between the attempt and the waker store; past them the source reports a readiness the operation cannot
// use (a final state with EAGAIN), so the operation looks again next iteration instead of spinning.
inline constexpr int io_attempt_rounds = 3;

// The awaitable shape of every IO operation: `attempt()` returns an Output (Result<X> or Error) and
// would_block when it cannot progress; the op then waits for `direction` readiness and tries again. An
// attempt that meets EAGAIN clears the readiness it saw (PollFd::try_io), so the next round parks.
template <typename OutputType, typename Attempt>
class [[nodiscard]] IoOp {
 public:
  using Output = OutputType;
  IoOp(Registration registration, Direction direction, Attempt attempt)
      : registration_(registration), direction_(direction), attempt_(std::move(attempt)) {}
  IoOp(IoOp&& other) noexcept
      : registration_(other.registration_), direction_(other.direction_), attempt_(std::move(other.attempt_)) {}

  bool poll(PollContext& context) {
    waiting_ = false;
    for (int round = 0; round < io_attempt_rounds; ++round) {
      uint64_t seen = 0;  // try_io takes its own
      const IoGate gate = readiness_gate(registration_, direction_, context.waker, seen);
      if (gate == IoGate::wait) {
        waiting_ = true;
        return false;
      }
      if (gate != IoGate::go) return finish(gate_error(gate));
      output_.emplace(attempt_());
      if (!is_would_block(*output_)) return true;
    }
    context.waker.wake();
    return false;
  }
  Output take_output() { return std::move(*output_); }
  void cancel() {
    if (waiting_ && is_live(registration_)) registration_.io->clear_waker(direction_);
    waiting_ = false;
  }

 private:
  bool finish(Error error) {
    output_.emplace(error);
    return true;
  }

  Registration registration_;
  Direction direction_;
  Attempt attempt_;
  std::optional<Output> output_;
  bool waiting_ = false;
};

template <typename Output, typename Attempt>
IoOp<Output, Attempt> make_io_op(Registration registration, Direction direction, Attempt attempt) {
  return IoOp<Output, Attempt>(registration, direction, std::move(attempt));
}

class PollFd {
 public:
  PollFd() = default;
  PollFd(PollFd&& other) noexcept;
  PollFd& operator=(PollFd&& other) noexcept;
  PollFd(const PollFd&) = delete;
  PollFd& operator=(const PollFd&) = delete;
  // Deregisters, then closes (the order epoll needs, see Handle::deregister).
  ~PollFd() { (void)close(); }

  // Takes ownership of `fd`, makes it non-blocking and close-on-exec, and registers it for `interest`.
  // On failure `fd` is closed. Errors: those of set_nonblocking and Handle::add_source (EPERM for a
  // regular file, registrations_full, shut_down).
  static Result<PollFd> adopt(Handle handle, Fd fd, Interest interest = Interest::readable | Interest::writable);
  // adopt() for an fd that port/'s calls made (open_socket, accept_nonblocking, pipe_nonblocking, a
  // multishot accept with SOCK_NONBLOCK | SOCK_CLOEXEC): already non-blocking and close-on-exec, so
  // without the four fcntl calls per accepted connection (asserted in debug builds).
  static Result<PollFd> adopt_nonblocking(Handle handle, Fd fd, Interest interest);

  // Deregisters and closes; a second call does nothing. Returns the deregistration's error, if any.
  Error close();
  // Deregisters and hands the fd to `fd` instead of closing it (for an owner whose operations the
  // kernel still holds: the fd must stay open until they end, or its number could name another file).
  Error release(Fd& fd);
  // Deregisters and keeps the fd: for a stream whose IO goes through completion operations, where the
  // readiness events would only cost. try_ calls still work (without readiness bookkeeping); readiness
  // awaits then end with stale_token.
  Error forget_readiness();
  bool is_open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  // Token and ScheduledIo of the registration: for IoWatch, emio::ready() and readiness snapshots.
  Registration registration() const { return registration_; }
  ScheduledIo& io() const { return *registration_.io; }
  // The driver handle it was registered with (accepted connections are registered with it too).
  Handle handle() const { return handle_; }

  // Runs `syscall()` (which returns ssize_t and sets errno) once, retrying EINTR. EAGAIN/EWOULDBLOCK
  // clears the `direction` readiness seen before the call and returns would_block.
  // `drained_below` is for byte streams (ByteStream: sockets, pipes, ttys): a transfer shorter than it (the
  // buffer's size) emptied the receive queue or filled the send queue, so the readiness it saw is cleared
  // at once and the next await parks without a system call that would only say EAGAIN (Tokio does the
  // same). Never for datagrams, where a short read is one small datagram with more queued behind it.
  template <typename Syscall>
  Result<size_t> try_io(Direction direction, Syscall&& syscall, size_t drained_below = 0) {
    // Closed (or never opened): the awaitable forms say the same (found by review: this dereferenced null).
    // Not a test of the registration: after forget_readiness() the fd stays open without one, and works.
    if (!fd_.valid()) return Error::stale_token;
    // Taken before the call: an event that lands during it moves the tick, and the clear below keeps it.
    const uint64_t seen = registration_.io != nullptr ? registration_.io->snapshot() : 0;
    return transfer_seen(seen, direction, syscall, drained_below);
  }
  // try_io for an operation whose readiness_gate said go: `seen` is the gate's snapshot (taken before the
  // call, as try_io's is), so the word is loaded once per attempt.
  template <typename Syscall>
  Result<size_t> transfer_seen(uint64_t seen, Direction direction, Syscall&& syscall, size_t drained_below) {
    ssize_t done;
    do {
      done = syscall();
    } while (done < 0 && errno == EINTR);
    if (done < 0) return failed(seen, direction);
    if (static_cast<size_t>(done) < drained_below && registration_.io != nullptr) {
      registration_.io->clear_readiness_seen(seen, direction);
    }
    return static_cast<size_t>(done);
  }

  // read(2): bytes read, 0 at end of stream.
  Result<size_t> try_read(std::span<std::byte> buffer);
  // write(2): bytes written (maybe fewer than given). A pipe whose reader is gone raises SIGPIPE unless
  // the process ignores it (daemons do: signal(SIGPIPE, SIG_IGN)); sockets use send(MSG_NOSIGNAL).
  Result<size_t> try_write(std::span<const std::byte> data);

  // Awaitables (Result<size_t>): read/write once something could be transferred.
  auto read(std::span<std::byte> buffer) {
    return make_io_op<Result<size_t>>(registration_, Direction::read, [this, buffer] { return try_read(buffer); });
  }
  auto write(std::span<const std::byte> data) {
    return make_io_op<Result<size_t>>(registration_, Direction::write, [this, data] { return try_write(data); });
  }
  // Awaitables (Result<ReadyEvent>): readiness only, for operations the caller does itself.
  ReadinessOp readable() const { return ReadinessOp(registration_, Direction::read); }
  ReadinessOp writable() const { return ReadinessOp(registration_, Direction::write); }

 private:
  Error failed(uint64_t seen, Direction direction);

  Handle handle_;
  Registration registration_{};
  Fd fd_;
};

// What every IO resource (streams, listeners, datagram sockets, the serial port) is: one PollFd, and the
// accessors for it. Closing deregisters, then closes; the destructor does the same.
class IoResource {
 public:
  // The underlying source, for readiness awaits and IoWatch (registration()).
  PollFd& source() { return source_; }
  Registration registration() const { return source_.registration(); }
  int fd() const { return source_.fd(); }
  bool is_open() const { return source_.is_open(); }
  Error close() { return source_.close(); }

 protected:
  IoResource() = default;
  explicit IoResource(PollFd source) : source_(std::move(source)) {}

  PollFd source_;
};

}  // namespace emio
