// SPDX-License-Identifier: MIT
#include "emio/driver/handle.h"

#include <cassert>

#include "emio/driver/driver.h"
#include "emio/port/log.h"

namespace emio {

bool Handle::driver_alive(const char* call) const {
  if (driver_registry::alive(instance_)) return true;
  log_message(LogLevel::error,
              "Handle::%s after its Driver was destroyed: an IO resource outlived its Executor or Driver "
              "(close or destroy it first)",
              call);
  assert(!"an IO resource outlived its Executor or Driver: close or destroy it first");
  return false;
}

Result<Registration> Handle::add_source(int fd, Interest interest) const {
  assert(driver_ != nullptr);
  if (!driver_alive("add_source")) return Error::shut_down;
  std::lock_guard<Mutex> guard(driver_->registrations_lock_);
  if (driver_->shut_down_.load(std::memory_order_relaxed) || !driver_->initialised_.load(std::memory_order_relaxed)) {
    return Error::shut_down;
  }
  return driver_->add_locked(fd, interest);
}

Error Handle::deregister(Registration registration) const {
  assert(driver_ != nullptr);
  if (!driver_alive("deregister")) return Error::shut_down;
  ScheduledIo* removed = nullptr;
  Error status{};
  {
    std::lock_guard<Mutex> guard(driver_->registrations_lock_);
    status = driver_->remove_locked(registration, removed);
  }
  // After the lock: the waker being waited for may itself add or remove sources.
  if (removed != nullptr) removed->wait_until_no_waker_runs();
  return status;
}

void Handle::wake() const {
  assert(driver_ != nullptr);
  if (!driver_alive("wake")) return;
  // Only the first wake since the driver last saw one makes the system call (libuv's async does the same).
  if (driver_->wake_pending_.exchange(true, std::memory_order_seq_cst)) return;
  // Before init there is no wake event yet: init signals it for this wake (see Driver::init).
  if (!driver_->initialised_.load(std::memory_order_seq_cst)) return;
  driver_->stats_.wake_signals.fetch_add(1, std::memory_order_relaxed);
  // The only failure of an eventfd write left after EAGAIN handling is EBADF on a destroyed driver,
  // which is a use-after-free the caller must not commit; there is nobody to report it to.
  (void)driver_->signal_wake();
}

}  // namespace emio
