// SPDX-License-Identifier: MIT
#include "emio/runtime/poll_fd.h"

#if !defined(_WIN32)
#include <fcntl.h>
#endif

#include <cassert>
#include <utility>

#include "emio/runtime/socket_calls.h"

namespace emio {

PollFd::PollFd(PollFd&& other) noexcept
    : handle_(other.handle_), registration_(std::exchange(other.registration_, {})), fd_(std::move(other.fd_)) {}

PollFd& PollFd::operator=(PollFd&& other) noexcept {
  if (this != &other) {
    (void)close();
    handle_ = other.handle_;
    registration_ = std::exchange(other.registration_, {});
    fd_ = std::move(other.fd_);
  }
  return *this;
}

Result<PollFd> PollFd::adopt(Handle handle, Fd fd, Interest interest) {
  if (!fd.valid()) return Error::from_errno(EBADF);
  if (Error error = set_nonblocking(fd.get()); error.failed()) return error;
  return adopt_nonblocking(handle, std::move(fd), interest);
}

Result<PollFd> PollFd::adopt_nonblocking(Handle handle, Fd fd, Interest interest) {
  if (!fd.valid()) return Error::from_errno(EBADF);
#if !defined(_WIN32)  // Winsock cannot be asked whether a socket is non-blocking
  assert((::fcntl(fd.get(), F_GETFL) & O_NONBLOCK) != 0 && (::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
#endif
  Result<Registration> registered = handle.add_source(fd.get(), interest);
  if (!registered.ok()) return registered.error();
  PollFd source;
  source.handle_ = handle;
  source.registration_ = registered.value();
  source.fd_ = std::move(fd);
  return source;
}

Error PollFd::close() {
  Fd closing;
  return release(closing);  // closes when `closing` goes
}

Error PollFd::release(Fd& fd) {
  if (!fd_.valid()) return Error{};
  // Deregister first: epoll interest belongs to the open file description, not to the fd.
  const Error deregistered = forget_readiness();
  fd = std::move(fd_);
  return deregistered;
}

Error PollFd::forget_readiness() {
  if (registration_.io == nullptr) return Error{};
  const Error deregistered = handle_.deregister(registration_);
  registration_ = {};
  return deregistered;
}

Result<size_t> PollFd::try_read(std::span<std::byte> buffer) {
  return try_io(Direction::read, [&] { return detail::read_fd(fd(), buffer.data(), buffer.size()); });
}

Result<size_t> PollFd::try_write(std::span<const std::byte> data) {
  return try_io(Direction::write, [&] { return detail::write_fd(fd(), data.data(), data.size()); });
}

Error PollFd::failed(uint64_t seen, Direction direction) {
  const int error = errno;
  if (error == EAGAIN || error == EWOULDBLOCK) {
    // Clears only what was seen before the call: an event that arrived since moved the tick and stays.
    if (registration_.io != nullptr) registration_.io->clear_readiness_seen(seen, direction);
    return would_block;
  }
  return Error::from_errno(error);
}

}  // namespace emio
