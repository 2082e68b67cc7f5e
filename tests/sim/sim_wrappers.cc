// SPDX-License-Identifier: MIT
// The --wrap= definitions of the sim test binaries: every read, write, recv and send in the process
// (the library's included) asks the sim backends for its length first, and reports what it moved after.
// A transfer on a watched byte stream may be cut to a seeded length; the backend then queues the event
// the kernel would owe for the rest (emio, like Tokio, takes a short transfer as "drained").
#include <sys/socket.h>
#include <unistd.h>

#include "emio/driver/sim_backend.h"

extern "C" {
ssize_t __real_read(int fd, void* buffer, size_t length);
ssize_t __real_write(int fd, const void* data, size_t length);
ssize_t __real_recv(int fd, void* buffer, size_t length, int flags);
ssize_t __real_send(int fd, const void* data, size_t length, int flags);
}

namespace {

template <typename Transfer>
ssize_t simulated(int fd, emio::SimTransfer direction, size_t length, Transfer&& transfer) {
  const size_t allowed = emio::sim_transfer_length(fd, direction, length);
  const ssize_t moved = transfer(allowed);
  emio::sim_transfer_done(fd, direction, allowed, length, moved);
  return moved;
}

}  // namespace

extern "C" {

ssize_t __wrap_read(int fd, void* buffer, size_t length) {
  return simulated(fd, emio::SimTransfer::read, length,
                   [&](size_t allowed) { return __real_read(fd, buffer, allowed); });
}

ssize_t __wrap_write(int fd, const void* data, size_t length) {
  return simulated(fd, emio::SimTransfer::write, length,
                   [&](size_t allowed) { return __real_write(fd, data, allowed); });
}

ssize_t __wrap_recv(int fd, void* buffer, size_t length, int flags) {
  return simulated(fd, emio::SimTransfer::read, length,
                   [&](size_t allowed) { return __real_recv(fd, buffer, allowed, flags); });
}

ssize_t __wrap_send(int fd, const void* data, size_t length, int flags) {
  return simulated(fd, emio::SimTransfer::write, length,
                   [&](size_t allowed) { return __real_send(fd, data, allowed, flags); });
}

}  // extern "C"
