#include "emio/driver/handle.h"

#include <cassert>

#include "emio/driver/driver.h"

namespace emio {

Result<Registration> Handle::add_source(int fd, Interest interest) const {
  assert(driver_ != nullptr);
  std::lock_guard<std::mutex> guard(driver_->registrations_lock_);
  if (driver_->shut_down_.load(std::memory_order_relaxed) || !driver_->initialised_) return Error::shut_down;
  // epoll refuses a second registration of one fd; io_uring would arm a second poll. Refuse it here
  // so that every backend agrees (a scan of the arena: adds are rare next to events).
  if (!driver_->backend_.refuses_duplicate_fds() && driver_->watches_fd_locked(fd)) return Error::from_errno(EEXIST);
  const ArenaAllocation<ScheduledIo> slot = driver_->registrations_.allocate();
  if (slot.status != ArenaStatus::ok) return Error::registrations_full;
  // Stamp the slot before the OS can report an event for it.
  slot.value->reset(slot.token.generation(), fd, interest);
  if (Error error = driver_->backend_.add(fd, slot.token, interest); error.failed()) {
    // Roll back: the slot goes back with a new generation, so even a stray event finds it stale
    // (Tokio leaked slots here, tokio-rs/tokio#6329).
    const ArenaStatus released = driver_->registrations_.release(slot.token);
    assert(released == ArenaStatus::ok);
    (void)released;
    slot.value->reset(driver_->registrations_.generation_at(slot.token.index()), -1, Interest{});
    return error;
  }
  return Registration{slot.token, slot.value};
}

Error Handle::deregister(Registration registration) const {
  assert(driver_ != nullptr);
  std::lock_guard<std::mutex> guard(driver_->registrations_lock_);
  ScheduledIo* io = driver_->registrations_.lookup(registration.token);
  if (io == nullptr) return Error::stale_token;
  // Remove from the OS first; free the slot whatever it says (tokio-rs/tokio#7563, #7773 leaked here).
  const Error removed = driver_->backend_.remove(io->fd(), registration.token);
  const ArenaStatus released = driver_->registrations_.release(registration.token);
  assert(released == ArenaStatus::ok);
  (void)released;
  io->reset(driver_->registrations_.generation_at(registration.token.index()), -1, Interest{});
  return removed;
}

void Handle::wake() const {
  assert(driver_ != nullptr);
  // Only the first wake since the driver last saw one makes the system call (libuv's async does the same).
  if (driver_->wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  driver_->stats_.wake_signals.fetch_add(1, std::memory_order_relaxed);
  // The only failure of an eventfd write left after EAGAIN handling is EBADF on a destroyed driver,
  // which is a use-after-free the caller must not commit; there is nobody to report it to.
  (void)driver_->wake_event_.signal();
}

}  // namespace emio
