// SPDX-License-Identifier: MIT
// The --wrap= definitions: each asks the schedule (fault_layer.cc) and either fails the call as the
// kernel would, or calls the real function (__real_*). A fault that the kernel could not produce
// alone would test emio against a kernel that does not exist, so each one keeps the kernel's own
// promises: an EAGAIN or a short transfer on a socket is followed by the wake-up the kernel gives when
// data or room arrives (emio takes a short transfer as "drained", as Tokio does, and an edge-triggered
// poller reports the next change only), and a reset is a real RST.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "emio/config.h"
#include "fault/fault_layer.h"

#if defined(EMIO_BACKEND_URING)
#include <liburing.h>
#endif
#if defined(EMIO_BACKEND_KQUEUE)
#include <sys/event.h>
#endif

using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;

extern "C" {
ssize_t __real_read(int fd, void* buffer, size_t length);
ssize_t __real_write(int fd, const void* data, size_t length);
ssize_t __real_recv(int fd, void* buffer, size_t length, int flags);
ssize_t __real_send(int fd, const void* data, size_t length, int flags);
int __real_accept4(int fd, sockaddr* address, socklen_t* address_length, int flags);
int __real_socket(int family, int type, int protocol);
}

namespace {

// stdin, stdout and stderr are the test runner's: never failed.
const Rule* decide_for_fd(Call call, int fd) { return fd > STDERR_FILENO ? emio_fault::decide(call) : nullptr; }

ssize_t fail_with(int error) {
  errno = error;
  return -1;
}

bool is_tcp(int fd) {
  int protocol = 0;
  socklen_t length = sizeof protocol;
  return ::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 && protocol == IPPROTO_TCP;
}

// Setting SO_RCVLOWAT runs tcp_data_ready (tcp_set_rcvlowat: "check if we need to signal EPOLLIN right
// now"): the readable wake-up new data would give, raised only if data is queued.
void raise_readable_edge(int fd) {
  const int one_byte = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one_byte, sizeof one_byte);
}

// Setting SO_SNDBUF runs sk_write_space (__sock_set_sndbuf: "wake up sending tasks"), which wakes
// writers if there is room: the writable wake-up an ACK freeing room would give. The kernel doubles the
// value it is given, so half of what it reports keeps the size.
void raise_writable_edge(int fd) {
  int size = 0;
  socklen_t length = sizeof size;
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &length) != 0) return;
  size /= 2;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

// connect(AF_UNSPEC) on a TCP socket is tcp_disconnect: an RST to the peer and ECONNRESET here.
void reset_connection(int fd) {
  sockaddr unspecified{};
  unspecified.sa_family = AF_UNSPEC;
  (void)::connect(fd, &unspecified, sizeof unspecified);
}

size_t shortened(size_t length) { return length < 2 ? length : 1 + emio_fault::draw() % (length - 1); }

// recv and send, which share every fault but the direction of the edge.
template <typename Transfer>
ssize_t transfer_with_faults(Call call, int fd, size_t length, Transfer&& transfer) {
  const Rule* rule = decide_for_fd(call, fd);
  if (rule == nullptr) return transfer(length);
  if (rule->effect == Effect::fail && rule->error == EINTR) return fail_with(EINTR);
  if (!is_tcp(fd)) return transfer(length);
  const auto raise_edge = [&] { call == Call::recv ? raise_readable_edge(fd) : raise_writable_edge(fd); };
  switch (rule->effect) {
    case Effect::fail:
      raise_edge();
      return fail_with(rule->error);
    case Effect::short_transfer: {
      const ssize_t done = transfer(shortened(length));
      raise_edge();
      return done;
    }
    case Effect::reset:
      reset_connection(fd);
      return transfer(length);
    case Effect::planted_undercount: {
      const ssize_t done = transfer(length);
      raise_edge();  // the miscount alone: no wake-up lost with it
      return done > 1 ? done - 1 : done;
    }
    case Effect::end_poll:
    case Effect::planted_fd_leak:
    case Effect::count:
      break;
  }
  return transfer(length);
}

// read and write: pipes, ptys and eventfds, where only EINTR is a fault the kernel can give without
// a state change we could not raise.
template <typename Transfer>
ssize_t plain_transfer_with_faults(Call call, int fd, Transfer&& transfer) {
  const Rule* rule = decide_for_fd(call, fd);
  if (rule != nullptr && rule->effect == Effect::fail && rule->error == EINTR) return fail_with(EINTR);
  return transfer();
}

}  // namespace

extern "C" {

ssize_t __wrap_read(int fd, void* buffer, size_t length) {
  return plain_transfer_with_faults(Call::read, fd, [&] { return __real_read(fd, buffer, length); });
}

ssize_t __wrap_write(int fd, const void* data, size_t length) {
  return plain_transfer_with_faults(Call::write, fd, [&] { return __real_write(fd, data, length); });
}

ssize_t __wrap_recv(int fd, void* buffer, size_t length, int flags) {
  return transfer_with_faults(Call::recv, fd, length,
                              [&](size_t allowed) { return __real_recv(fd, buffer, allowed, flags); });
}

ssize_t __wrap_send(int fd, const void* data, size_t length, int flags) {
  return transfer_with_faults(Call::send, fd, length,
                              [&](size_t allowed) { return __real_send(fd, data, allowed, flags); });
}

// EMFILE/ENFILE leave the connection queued in the kernel, as a real exhaustion does.
int __wrap_accept4(int fd, sockaddr* address, socklen_t* address_length, int flags) {
  const Rule* rule = decide_for_fd(Call::accept, fd);
  if (rule != nullptr && rule->effect == Effect::fail) return static_cast<int>(fail_with(rule->error));
  const int accepted = __real_accept4(fd, address, address_length, flags);
  emio_fault::remember_fd(accepted);
  if (rule != nullptr && rule->effect == Effect::planted_fd_leak && accepted >= 0) {
    emio_fault::keep_planted_leak(::fcntl(accepted, F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
  }
  return accepted;
}

int __wrap_socket(int family, int type, int protocol) {
  if (const Rule* rule = emio_fault::decide(Call::socket); rule != nullptr) {
    return static_cast<int>(fail_with(rule->error));
  }
  const int fd = __real_socket(family, type, protocol);
  emio_fault::remember_fd(fd);
  return fd;
}

#if defined(EMIO_BACKEND_KQUEUE)
int __real_kevent(int kqueue_fd, const struct kevent* changes, int change_count, struct kevent* events, int capacity,
                  const timespec* timeout);

// A signal that arrives at once: EINTR before anything was waited for. Only a pure wait: with
// changes, a BSD kernel applies them before it waits, and a failed change list is a different fault.
// libkqueue's own epoll_wait, inside this call, is left alone: the driver meets what kevent says.
int __wrap_kevent(int kqueue_fd, const struct kevent* changes, int change_count, struct kevent* events, int capacity,
                  const timespec* timeout) {
  if (change_count == 0 && capacity > 0) {
    if (const Rule* rule = emio_fault::decide(Call::wait); rule != nullptr) {
      return static_cast<int>(fail_with(rule->error));
    }
  }
  return __real_kevent(kqueue_fd, changes, change_count, events, capacity, timeout);
}
#else
int __real_epoll_wait(int epoll_fd, epoll_event* events, int capacity, int timeout_ms);

// A signal that arrives at once: EINTR before anything was waited for.
int __wrap_epoll_wait(int epoll_fd, epoll_event* events, int capacity, int timeout_ms) {
  if (const Rule* rule = emio_fault::decide(Call::wait); rule != nullptr) {
    return static_cast<int>(fail_with(rule->error));
  }
  return __real_epoll_wait(epoll_fd, events, capacity, timeout_ms);
}
#endif

}  // extern "C"

#if defined(EMIO_BACKEND_URING)
extern "C" {
int __real_io_uring_queue_init_params(unsigned entries, io_uring* ring, io_uring_params* params);
void __real_io_uring_queue_exit(io_uring* ring);
int __real_io_uring_enter(unsigned fd, unsigned to_submit, unsigned min_complete, unsigned flags, sigset_t* mask);
int __real_io_uring_enter2(unsigned fd, unsigned to_submit, unsigned min_complete, unsigned flags, sigset_t* mask,
                           size_t mask_size);
}

namespace {

// The ring set up last on this thread: where end_poll cancels.
thread_local io_uring* current_ring = nullptr;

// What the kernel does to a poll whose task exited: cancels it, posting -ECANCELED without F_MORE.
void cancel_polls_of_one_fd() {
  const int fd = emio_fault::pick_remembered_fd();
  if (current_ring == nullptr || fd < 0) return;
  io_uring_sync_cancel_reg cancel{};
  cancel.fd = fd;
  cancel.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
  cancel.timeout.tv_sec = -1;  // no timeout
  cancel.timeout.tv_nsec = -1;
  (void)io_uring_register_sync_cancel(current_ring, &cancel);
}

// io_uring_enter with faults: `enter(min_complete)` is the real call. EAGAIN and EBUSY mean nothing was
// submitted (the entries stay in the ring); EINTR comes from the wait, after the submission.
template <typename Enter>
int enter_with_faults(unsigned min_complete, Enter&& enter) {
  if (current_ring != nullptr && (IO_URING_READ_ONCE(*current_ring->sq.kflags) & IORING_SQ_CQ_OVERFLOW) != 0) {
    emio_fault::note_cq_overflow();
  }
  const Rule* rule = emio_fault::decide(Call::uring_submit);
  if (rule == nullptr) return enter(min_complete);
  if (rule->effect == Effect::end_poll) {
    cancel_polls_of_one_fd();
    return enter(min_complete);
  }
  if (rule->error != EINTR) return -rule->error;
  const int submitted = enter(0u);
  return submitted < 0 ? submitted : -EINTR;
}

}  // namespace

extern "C" {

int __wrap_io_uring_queue_init_params(unsigned entries, io_uring* ring, io_uring_params* params) {
  if (const Rule* rule = emio_fault::decide(Call::uring_setup); rule != nullptr) return -rule->error;
  const int status = __real_io_uring_queue_init_params(entries, ring, params);
  if (status == 0) current_ring = ring;
  return status;
}

void __wrap_io_uring_queue_exit(io_uring* ring) {
  if (ring == current_ring) current_ring = nullptr;
  __real_io_uring_queue_exit(ring);
}

int __wrap_io_uring_enter(unsigned fd, unsigned to_submit, unsigned min_complete, unsigned flags, sigset_t* mask) {
  return enter_with_faults(min_complete,
                           [&](unsigned wanted) { return __real_io_uring_enter(fd, to_submit, wanted, flags, mask); });
}

int __wrap_io_uring_enter2(unsigned fd, unsigned to_submit, unsigned min_complete, unsigned flags, sigset_t* mask,
                           size_t mask_size) {
  return enter_with_faults(min_complete, [&](unsigned wanted) {
    return __real_io_uring_enter2(fd, to_submit, wanted, flags, mask, mask_size);
  });
}

}  // extern "C"
#endif
