// SPDX-License-Identifier: MIT
#include "emio/driver/driver.h"

#include <cerrno>
#include <new>

#include "emio/port/log.h"

namespace emio {

Driver::~Driver() {
  if (initialised_.load(std::memory_order_acquire)) shutdown();
  release_resources();
  driver_registry::leave(instance_);
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

Error Driver::init_fd_index(const DriverConfig& config) {
  const uint32_t entries = FdIndex::entries_for(registrations_.capacity());
  if (!config.fd_index_storage.empty()) {
    if (config.fd_index_storage.size() < entries) return Error::from_errno(EINVAL);
    fd_index_.init(config.fd_index_storage.first(entries));
    return Error{};
  }
  owned_fd_index_ = new (std::nothrow) uint32_t[entries];
  if (owned_fd_index_ == nullptr) return Error::no_storage;
  fd_index_.init(std::span<uint32_t>(owned_fd_index_, entries));
  return Error{};
}

Error Driver::open_resources(const DriverConfig& config) {
  if (!backend_choice_compiled_in(config.backend)) return Error::backend_unavailable;
  if (!config.receive_buffers.valid()) return Error::from_errno(EINVAL);
  const ArenaStatus arena = config.registration_storage.empty() ? registrations_.init(config.registration_capacity)
                                                                : registrations_.init(config.registration_storage);
  if (arena != ArenaStatus::ok) return Error::no_storage;
  if (Error error = init_events(config); error.failed()) return error;
  if (Error error = init_fd_index(config); error.failed()) return error;
  const BackendOptions options{config.backend,
                               config.uring,
                               config.receive_buffers,
                               registrations_.capacity(),
                               Waker{&Driver::wake_from_backend, this},
                               config.kqueue,
                               ReadinessProbe{&Driver::readiness_of, this}};
  if (Error error = backend_.open(options); error.failed()) return error;
  if (Error error = open_wake(); error.failed()) return error;
  return init_operations(config);
}

// Templates, so that the branch a backend lacks is never compiled for it.
namespace {

template <typename B, typename W>
Error open_wake_of(B& backend, W& wake_event, Token token) {
  if constexpr (OwnsDriverWake<B>) {
    return backend.open_wake(token);
  } else {
    if (Error error = wake_event.open(); error.failed()) return error;
    return backend.add(wake_event.poll_fd(), token, Interest::readable);
  }
}

template <typename B, typename W>
Error signal_wake_of(B& backend, W& wake_event) {
  if constexpr (OwnsDriverWake<B>) {
    return backend.signal_wake();
  } else {
    return wake_event.signal();
  }
}

template <typename B>
void wake_reported_to(B& backend, const typename B::Event& event) {
  if constexpr (OwnsDriverWake<B>) backend.wake_reported(event);  // kqueue's pipe is drained there
}

// The port's wake event where the driver has one; nothing where the backend owns the wake.
constexpr bool driver_has_wake_event = std::is_same_v<DriverWakeEvent, WakeEvent>;

template <typename W>
void drain(W& wake_event) {
  if constexpr (driver_has_wake_event) wake_event.drain();
}

template <typename W>
void close(W& wake_event) {
  if constexpr (driver_has_wake_event) wake_event.close();
}

template <typename W>
int poll_fd_of(const W& wake_event) {
  if constexpr (driver_has_wake_event) {
    return wake_event.poll_fd();
  } else {
    return -1;
  }
}

}  // namespace

Error Driver::open_wake() { return open_wake_of(backend_, wake_event_, wake_token); }

Error Driver::signal_wake() { return signal_wake_of(backend_, wake_event_); }

void Driver::release_resources() {
  readiness_operations_.release();
  operations_ = OperationLedger{};
  backend_.close();
  close(wake_event_);
  fd_index_.release();
  delete[] owned_fd_index_;
  owned_fd_index_ = nullptr;
  events_ = {};
  delete[] owned_events_;
  owned_events_ = nullptr;
  registrations_.release_storage();
}

Error Driver::init(const DriverConfig& config) {
  if (initialised_.load(std::memory_order_acquire)) return Error::from_errno(EALREADY);
  if (Error error = open_resources(config); error.failed()) {
    release_resources();  // nothing half-made stays behind: init may be called again
    return error;
  }
  // A free slot carries the generation its next token will have: no event can carry it yet.
  for (uint32_t i = 0; i < registrations_.capacity(); ++i) {
    registrations_.at(i).reset(registrations_.generation_at(i), -1, Interest{});
  }
  // mingw's emulated TLS allocates a thread's copy at its first touch: touched here, the driver thread's
  // first dispatch allocates nothing ("no heap after init" on Windows; elsewhere this is one load).
  [[maybe_unused]] const scheduled_io_detail::WakeFrame* volatile touched = scheduled_io_detail::innermost_wake;
  shut_down_.store(false, std::memory_order_release);
  initialised_.store(true, std::memory_order_seq_cst);
  // A wake() before init found no wake event to signal, and left the flag set: signal it now, so the
  // first turn returns at once as promised, and the flag is cleared by the event as usual.
  if (wake_pending_.load(std::memory_order_seq_cst)) (void)signal_wake();
  return Error{};
}

void Driver::wake_from_backend(void* driver) { static_cast<Driver*>(driver)->handle().wake(); }

Ready Driver::readiness_of(void* driver, Token token) {
  auto& self = *static_cast<Driver*>(driver);
  if (token.index() >= self.registrations_.capacity()) return Ready{};
  // No lock: the slot's storage is fixed, its word atomic, and the generation says whose it is.
  const ScheduledIo& io = self.registrations_.at(token.index());
  if (io.generation() != token.generation()) return Ready{};
  return io.readiness(Direction::read).ready | io.readiness(Direction::write).ready;
}

void Driver::dispatch_wake(const Backend::Event& event) {
  wake_reported_to(backend_, event);
  // A poll that ended is armed again, and io_uring's poll checks the level when armed: drain the
  // eventfd first or the new poll fires at once, for ever. Drain, clear, arm, in that order, so
  // that a wake() after the drain is seen by the new poll.
  const bool ended = Backend::interest_ended(event);
  if (ended) drain(wake_event_);
  // Clearing here, after the kernel reported the wake, lets the next Handle::wake() signal again.
  wake_pending_.exchange(false, std::memory_order_acq_rel);
  stats_.wakes_received += 1;
  if (ended) arm_again(wake_token);
}

// Inline into dispatch_all(), its one caller: the per-event path should not pay for a call.
// `EventReader` is the backend that filled the buffer, chosen once per turn (its ready_of is the
// cheapest reading of its own events).
template <typename EventReader>
inline void Driver::dispatch(const Backend::Event& event, scheduled_io_detail::WakeFrame& turn_frame) {
  const Token token = EventReader::token_of(event);
  // One test for the common case, a source's event: only the driver's own events carry a tag.
  if (token.tag() != 0) {
    if (token == wake_token) {
      dispatch_wake(event);
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
  // Merges the readiness and calls the waiters, unless the registration was removed (the slot may
  // have a new owner, which this event must not reach).
  if (!io.dispatch(token.generation(), EventReader::ready_of(event), turn_frame)) {
    stats_.stale_events_dropped += 1;
    return;
  }
  stats_.events_dispatched += 1;
  if (EventReader::interest_ended(event)) arm_again(token);
}

template <typename EventReader>
void Driver::dispatch_all(uint32_t count) {
  // One wake frame for the whole turn, linked once: each waker call only names its source in it.
  scheduled_io_detail::LinkedWakeFrame turn_frame(nullptr);
  // A local span: a waker may touch the driver, so events_ itself would be read again after every call.
  for (const Backend::Event& event : events_.first(count)) dispatch<EventReader>(event, turn_frame.frame());
}

Result<uint32_t> Driver::turn(int max_wait_ms) {
  if (shut_down_.load(std::memory_order_acquire) || !initialised_.load(std::memory_order_relaxed)) {
    return Error::shut_down;
  }
  const bool readiness = runs_readiness_operations();
  const int wait_ms = readiness ? readiness_operations_.clamp_wait_ms(max_wait_ms) : max_wait_ms;
  Result<uint32_t> polled = backend_.wait(events_, wait_ms);
  stats_.turns += 1;
  if (!polled.ok() && polled.error() != Error::from_errno(EINTR)) return polled.error();
  const uint64_t dispatched_before = stats_.events_dispatched;
  const uint32_t polled_count = polled.ok() ? polled.value() : 0u;
#if defined(EMIO_BACKEND_URING)
  if (backend_.kind() == DynamicBackend::Kind::uring) {
    dispatch_all<UringBackend>(polled_count);
  } else {
    dispatch_all<EpollBackend>(polled_count);
  }
#else
  dispatch_all<Backend>(polled_count);
#endif
  if (readiness) readiness_operations_.run();
  return static_cast<uint32_t>(stats_.events_dispatched - dispatched_before);
}

void Driver::arm_again(Token token) {
  ScheduledIo* io = nullptr;
  Error armed{};
  {
    std::lock_guard<Mutex> guard(registrations_lock_);
    if (token == wake_token) {
      // Without its poll the driver would sleep through every wake: say so, loudly, once per failure.
      armed = backend_.add(poll_fd_of(wake_event_), wake_token, Interest::readable);
      if (armed.failed()) log_message(LogLevel::error, "cannot re-arm the driver's wake poll: %s", armed.name());
      return;
    }
    // Under the lock, and only for a live registration: a poll armed after deregister() removed the
    // old one would hold the file open for ever.
    io = registrations_.lookup(token);
    if (io == nullptr) return;
    // A backend that polls whatever it is given: an fd closed before deregister is found here, at once.
    if (!backend_.refuses_duplicate_fds()) {
      if (Result<uint64_t> pollable = check_pollable(io->fd()); !pollable.ok()) armed = pollable.error();
    }
    if (armed.ok()) armed = backend_.add(io->fd(), token, io->interest());
  }
  // Outside the lock (a waker may add or remove sources). The fd was closed before deregister: tell the
  // waiters, whose next call will say why. The generation check keeps it from a new owner.
  if (armed.failed()) (void)io->dispatch(token.generation(), Ready::error);
}

void Driver::shutdown() {
  {
    std::lock_guard<Mutex> guard(registrations_lock_);
    if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
  }
  // No registration can be added from here on; wake every waiter outside the lock. Live slots only: a
  // free slot's waker fields belong to nobody.
  for (uint32_t i = 0; i < registrations_.capacity(); ++i) {
    bool live = false;
    {
      std::lock_guard<Mutex> guard(registrations_lock_);
      live = registrations_.is_live(i);
    }
    if (live) registrations_.at(i).shutdown();
  }
  cancel_operations();
}

uint32_t Driver::live_registrations() {
  std::lock_guard<Mutex> guard(registrations_lock_);
  return registrations_.live_count();
}

}  // namespace emio
