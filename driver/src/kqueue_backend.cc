// SPDX-License-Identifier: MIT
#include "emio/driver/kqueue_backend.h"

#include <fcntl.h>
#include <time.h>

#include <cerrno>
#include <cstddef>

namespace emio {
namespace {

using Event = KqueueBackend::Event;

// A filter per direction, at most two per source: the changes of one add or remove fit one call.
constexpr int max_filters = 2;
// EVFILT_USER identifiers have a namespace of their own (not fds): the driver's one wake is 0.
constexpr uintptr_t wake_ident = 0;

// The token is a number, never dereferenced: udata only carries it back.
void* udata_of(Token token) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(token.bits()));  // NOLINT(performance-no-int-to-ptr)
}

Event make_change(uintptr_t ident, short filter, unsigned short flags, unsigned int fflags, Token token) {
  Event change{};
  // EV_SET is a macro that some headers spell with casts clang-tidy dislikes; fill the fields instead.
  change.ident = ident;
  change.filter = filter;
  change.flags = flags;
  change.fflags = fflags;
  change.udata = udata_of(token);
  return change;
}

// Applies `changes` with EV_RECEIPT, so that every change answers for itself in `receipts` (its data:
// 0 or the errno) instead of the first failure hiding the others; waits for nothing.
Error apply(int kqueue_fd, const Event* changes, int count, Event* receipts) {
  const timespec no_wait{};
  for (;;) {
    if (::kevent(kqueue_fd, changes, count, receipts, count, &no_wait) >= 0) return Error{};
    if (errno != EINTR) return Error::last_os_error();
  }
}

}  // namespace

Error KqueueBackend::receipt_error(const Event& receipt) {
  if ((receipt.flags & EV_ERROR) == 0 || receipt.data == 0) return Error{};
  if (receipt.data == EPIPE) return Error{};
  return Error::from_errno(static_cast<int>(receipt.data));
}

Error KqueueBackend::open(const BackendOptions& options) {
  // kqueue() has no CLOEXEC flag on macOS (kqueue1 is NetBSD's, kqueuex FreeBSD 14's): set it after.
  // A BSD kqueue is not inherited by fork() at all; libkqueue's is, so CLOEXEC matters on Linux too.
  const int fd = ::kqueue();
  if (fd < 0) return Error::last_os_error();
  kqueue_.reset(fd);
  emulate_missing_evfilt_user_ = options.kqueue.emulate_missing_evfilt_user;
  const int descriptor_flags = ::fcntl(fd, F_GETFD);
  if (descriptor_flags < 0 || ::fcntl(fd, F_SETFD, descriptor_flags | FD_CLOEXEC) < 0) {
    return Error::last_os_error();
  }
  return Error{};
}

void KqueueBackend::close() {
  wake_pipe_.close();
  kqueue_.reset();
}

Error KqueueBackend::add(int fd, Token token, Interest interest) {
  // EV_CLEAR gives mio's contract: one event per edge, and the consumer works until EAGAIN. kqueue has
  // no EPOLLRDHUP to ask for: EV_EOF comes with every read filter. Interest::priority has no portable
  // filter (EVFILT_EXCEPT is macOS and FreeBSD 12 only, and libkqueue lacks it): it adds nothing.
  constexpr unsigned short adding = EV_ADD | EV_CLEAR | EV_RECEIPT;
  Event changes[max_filters];
  int count = 0;
  // Write before read: libkqueue keeps one epoll registration per fd, and adding the write filter after
  // the read filter rewrites it without EPOLLRDHUP, so a FIN that came with the data would never say
  // EV_EOF. A BSD kernel does not mind the order.
  if (interest.contains(Interest::writable)) changes[count++] = make_change(fd, EVFILT_WRITE, adding, 0, token);
  if (interest.contains(Interest::readable)) changes[count++] = make_change(fd, EVFILT_READ, adding, 0, token);
  if (count == 0) return Error{};
  Event receipts[max_filters];
  if (Error error = apply(kqueue_.get(), changes, count, receipts); error.failed()) return error;
  Error refused{};
  for (int i = 0; i < count && refused.ok(); ++i) refused = receipt_error(receipts[i]);
  if (refused.ok()) return Error{};
  // Roll back: a source half-registered would report one direction only.
  Event deletions[max_filters];
  for (int i = 0; i < count; ++i) deletions[i] = make_change(fd, changes[i].filter, EV_DELETE | EV_RECEIPT, 0, token);
  (void)apply(kqueue_.get(), deletions, count, receipts);
  return refused;
}

Error KqueueBackend::remove(int fd, Token token) {
  // fd -1: its number went to a newer registration, whose filters an EV_DELETE by number would remove.
  if (fd < 0) return Error::from_errno(EBADF);
  constexpr unsigned short deleting = EV_DELETE | EV_RECEIPT;
  const Event changes[max_filters] = {make_change(fd, EVFILT_READ, deleting, 0, token),
                                      make_change(fd, EVFILT_WRITE, deleting, 0, token)};
  Event receipts[max_filters];
  if (Error error = apply(kqueue_.get(), changes, max_filters, receipts); error.failed()) return error;
  // ENOENT: that direction was never asked for. Any other answer is the OS's word on the fd (EBADF
  // when it was closed first), returned for the record, as on epoll.
  Error status = Error::from_errno(ENOENT);
  for (const Event& receipt : receipts) {
    const Error error = receipt_error(receipt);
    if (error == Error::from_errno(ENOENT)) continue;
    if (error.ok() || status == Error::from_errno(ENOENT)) status = error;
  }
#if defined(__linux__)
  // libkqueue deletes a closed fd's filters without complaint; a BSD kernel had dropped them at close()
  // and says EBADF. Say what the kernel would: the driver's contract returns it (docs/design.md).
  if (status.ok() && ::fcntl(fd, F_GETFD) < 0 && errno == EBADF) status = Error::from_errno(EBADF);
#endif
  return status;
}

Result<uint32_t> KqueueBackend::wait(std::span<Event> events, int timeout_ms) {
  timespec timeout{};
  timeout.tv_sec = timeout_ms / 1000;
  timeout.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
  const int count = ::kevent(kqueue_.get(), nullptr, 0, events.data(), static_cast<int>(events.size()),
                             timeout_ms < 0 ? nullptr : &timeout);
  if (count < 0) return Error::last_os_error();
  return static_cast<uint32_t>(count);
}

Error KqueueBackend::open_wake(Token wake_token) {
  wake_token_ = wake_token;
#if defined(EVFILT_USER)
  if (!emulate_missing_evfilt_user_) {
    // EV_CLEAR: a trigger is reported once, then the filter is quiet until the next NOTE_TRIGGER.
    const Event change = make_change(wake_ident, EVFILT_USER, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, wake_token);
    Event receipt{};
    if (Error error = apply(kqueue_.get(), &change, 1, &receipt); error.failed()) return error;
    const Error refused = receipt_error(receipt);
    // EINVAL: a kernel that has the constant but not the filter (libuv checks the same way at run time).
    if (refused != Error::from_errno(EINVAL)) return refused;
  }
#endif
  if (Error error = wake_pipe_.open(); error.failed()) return error;
  return add(wake_pipe_.poll_fd(), wake_token, Interest::readable);
}

Error KqueueBackend::signal_wake() {
  if (wakes_through_pipe()) return wake_pipe_.signal();
#if defined(EVFILT_USER)
  // The token again: a BSD kernel copies udata from every change it applies, not only from EV_ADD.
  const Event trigger = make_change(wake_ident, EVFILT_USER, 0, NOTE_TRIGGER, wake_token_);
  const timespec no_wait{};
  for (;;) {
    if (::kevent(kqueue_.get(), &trigger, 1, nullptr, 0, &no_wait) >= 0) return Error{};
    if (errno != EINTR) return Error::last_os_error();
  }
#else
  return Error::from_errno(ENOSYS);  // unreachable: open_wake took the pipe
#endif
}

void KqueueBackend::wake_reported(const Event& /*event*/) {
  if (wakes_through_pipe()) wake_pipe_.drain();
}

}  // namespace emio
