#include "emio/driver/driver.h"

#include <cerrno>
#include <new>

#include "emio/port/log.h"

namespace emio {

Driver::~Driver() {
  if (initialised_) shutdown();
  delete[] owned_events_;
}

Error Driver::init_events(const DriverConfig& config) {
  if (!config.event_storage.empty()) {
    events_ = config.event_storage;
    return Error{};
  }
  if (config.event_capacity == 0) return Error::no_storage;
  owned_events_ = new (std::nothrow) Backend::Event[config.event_capacity];
  if (owned_events_ == nullptr) return Error::no_storage;
  events_ = std::span<Backend::Event>(owned_events_, config.event_capacity);
  return Error{};
}

Error Driver::init(const DriverConfig& config) {
  if (initialised_) return Error::from_errno(EALREADY);
  if (!backend_choice_compiled_in(config.backend)) return Error::backend_unavailable;
  if (!config.receive_buffers.valid()) return Error::from_errno(EINVAL);
  const ArenaStatus arena = config.registration_storage.empty() ? registrations_.init(config.registration_capacity)
                                                                : registrations_.init(config.registration_storage);
  if (arena != ArenaStatus::ok) return Error::no_storage;
  if (Error error = init_events(config); error.failed()) return error;
  const BackendOptions options{config.backend, config.uring, config.receive_buffers, registrations_.capacity(),
                               Waker{&Driver::wake_from_backend, this}};
  if (Error error = backend_.open(options); error.failed()) return error;
  if (Error error = wake_event_.open(); error.failed()) return error;
  if (Error error = backend_.add(wake_event_.poll_fd(), wake_token, Interest::readable); error.failed()) {
    return error;
  }
  if (Error error = init_operations(config); error.failed()) return error;
  // A free slot carries the generation its next token will have: no event can carry it yet.
  for (uint32_t i = 0; i < registrations_.capacity(); ++i) {
    registrations_.at(i).reset(registrations_.generation_at(i), -1, Interest{});
  }
  initialised_ = true;
  return Error{};
}

void Driver::wake_from_backend(void* driver) { static_cast<Driver*>(driver)->handle().wake(); }

// Inline into turn(), its one caller: the per-event path should not pay for a call.
inline void Driver::dispatch(const Backend::Event& event) {
  const Token token = Backend::token_of(event);
  // One test for the common case, a source's event: only the driver's own events carry a tag.
  if (token.tag() != 0) {
    if (token == wake_token) {
      // A poll that ended is armed again, and io_uring's poll checks the level when armed: drain the
      // eventfd first or the new poll fires at once, for ever. Drain, clear, arm, in that order, so
      // that a wake() after the drain is seen by the new poll.
      const bool ended = Backend::interest_ended(event);
      if (ended) wake_event_.drain();
      // Clearing here, after the kernel reported the wake, lets the next Handle::wake() signal again.
      wake_pending_.exchange(false, std::memory_order_acq_rel);
      stats_.wakes_received += 1;
      if (ended) arm_again(wake_token);
    } else {
      stats_.stale_events_dropped += 1;
    }
    return;
  }
  if (token.index() >= registrations_.capacity()) {
    stats_.stale_events_dropped += 1;
    return;
  }
  ScheduledIo& io = registrations_.at(token.index());
  const Ready ready = Backend::ready_of(event);
  if (!io.set_readiness(token.generation(), ready)) {
    stats_.stale_events_dropped += 1;  // the registration was removed; the slot may have a new owner
    return;
  }
  if (Backend::interest_ended(event)) arm_again(token);
  stats_.events_dispatched += 1;
  io.wake(ready);
}

Result<uint32_t> Driver::turn(int max_wait_ms) {
  if (shut_down_.load(std::memory_order_acquire) || !initialised_) return Error::shut_down;
  const bool native = runs_native_operations();
  const int wait_ms = native ? max_wait_ms : readiness_operations_.clamp_wait_ms(max_wait_ms);
  Result<uint32_t> polled = backend_.wait(events_, wait_ms);
  stats_.turns += 1;
  if (!polled.ok() && polled.error() != Error::from_errno(EINTR)) return polled.error();
  const uint64_t dispatched_before = stats_.events_dispatched;
  const uint32_t polled_count = polled.ok() ? polled.value() : 0u;
  for (uint32_t i = 0; i < polled_count; ++i) dispatch(events_[i]);
  if (!native) readiness_operations_.run();
  return static_cast<uint32_t>(stats_.events_dispatched - dispatched_before);
}

void Driver::arm_again(Token token) {
  std::lock_guard<std::mutex> guard(registrations_lock_);
  if (token == wake_token) {
    // Without its poll the driver would sleep through every wake: say so, loudly, once per failure.
    if (Error error = backend_.add(wake_event_.poll_fd(), wake_token, Interest::readable); error.failed()) {
      log_message(LogLevel::error, "cannot re-arm the driver's wake poll: %s", error.name());
    }
    return;
  }
  // Under the lock, and only for a live registration: a poll armed after deregister() removed the
  // old one would hold the file open for ever.
  ScheduledIo* io = registrations_.lookup(token);
  if (io == nullptr) return;
  if (backend_.add(io->fd(), token, io->interest()).failed()) {
    // The fd was closed before deregister: tell its waiters, whose next call will say why.
    if (io->set_readiness(token.generation(), Ready::error)) io->wake(Ready::error);
  }
}

bool Driver::watches_fd_locked(int fd) {
  for (uint32_t i = 0; i < registrations_.capacity(); ++i) {
    if (registrations_.is_live(i) && registrations_.at(i).fd() == fd) return true;
  }
  return false;
}

void Driver::shutdown() {
  {
    std::lock_guard<std::mutex> guard(registrations_lock_);
    if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  }
  // No registration can be added from here on; wake every waiter outside the lock.
  for (uint32_t i = 0; i < registrations_.capacity(); ++i) registrations_.at(i).shutdown();
  cancel_operations();
}

uint32_t Driver::live_registrations() {
  std::lock_guard<std::mutex> guard(registrations_lock_);
  return registrations_.live_count();
}

}  // namespace emio
