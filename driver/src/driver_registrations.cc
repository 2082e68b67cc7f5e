// SPDX-License-Identifier: MIT
// The Driver's side of Handle::add_source and Handle::deregister, under the registrations lock.
#include <cassert>
#include <cerrno>

#include "emio/driver/driver.h"
#include "emio/port/fd.h"

namespace emio {

Result<uint64_t> Driver::check_pollable(int fd) {
  // One fstat: EBADF for a closed fd, and the file's identity. epoll refuses regular files and
  // directories (always ready, never worth watching) with EPERM; io_uring would report them ready for
  // ever. Refuse them the same way.
  Result<FileIdentity> file = file_identity(fd);
  if (!file.ok()) return file.error();
  if (file.value().always_ready) return Error::from_errno(EPERM);
  return file.value().value;
}

Result<Registration> Driver::add_locked(int fd, Interest interest) {
  const auto fd_of = [this](uint32_t slot) { return fd_of_slot(slot); };
  // A registration that had this fd number before: either a true duplicate (the same open file), or one
  // whose fd was closed without deregister and whose number came back for another file.
  const uint32_t previous = fd < 0 ? FdIndex::none : fd_index_.find(fd, fd_of);
  uint64_t identity = 0;
  if (!backend_.refuses_duplicate_fds()) {
    Result<uint64_t> pollable = check_pollable(fd);
    if (!pollable.ok()) return pollable.error();
    identity = pollable.value();
    // io_uring arms a second poll on one file without complaint; epoll says EEXIST. Tell a duplicate
    // from a reused number by the file behind it, so both backends agree.
    if (previous != FdIndex::none && registrations_.at(previous).file_identity() == identity) {
      return Error::from_errno(EEXIST);
    }
  }
  const ArenaAllocation<ScheduledIo> slot = registrations_.allocate();
  if (slot.status != ArenaStatus::ok) return Error::registrations_full;
  // Stamp the slot before the OS can report an event for it.
  slot.value->reset(slot.token.generation(), fd, interest, identity);
  if (Error error = backend_.add(fd, slot.token, interest); error.failed()) {
    // Roll back: the slot goes back with a new generation, so even a stray event finds it stale
    // (Tokio leaked slots here, tokio-rs/tokio#6329).
    const ArenaStatus released = registrations_.release(slot.token);
    assert(released == ArenaStatus::ok);
    (void)released;
    slot.value->reset(registrations_.generation_at(slot.token.index()), -1, Interest{});
    return error;
  }
  if (previous != FdIndex::none) {
    // The OS took the fd: the previous registration's file is gone. It stays registered until its owner
    // removes it, but must never name this fd again (EPOLL_CTL_DEL would remove the new interest).
    fd_index_.erase(fd, previous, fd_of);
    registrations_.at(previous).forget_fd();
  }
  fd_index_.insert(fd, slot.token.index());
  return Registration{slot.token, slot.value};
}

Error Driver::remove_locked(Registration registration, ScheduledIo*& removed) {
  ScheduledIo* io = registrations_.lookup(registration.token);
  if (io == nullptr) return Error::stale_token;
  const int fd = io->fd();
  if (fd >= 0) fd_index_.erase(fd, registration.token.index(), [this](uint32_t slot) { return fd_of_slot(slot); });
  // Remove from the OS first; free the slot whatever it says (tokio-rs/tokio#7563, #7773 leaked here).
  // fd -1 (its number went to a newer registration): the backend removes what it can without it, and
  // says EBADF, as for any registration whose fd was closed first.
  const Error os_status = backend_.remove(fd, registration.token);
  const ArenaStatus released = registrations_.release(registration.token);
  assert(released == ArenaStatus::ok);
  (void)released;
  io->reset(registrations_.generation_at(registration.token.index()), -1, Interest{});
  removed = io;
  return os_status;
}

}  // namespace emio
