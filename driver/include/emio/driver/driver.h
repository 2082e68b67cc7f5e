// SPDX-License-Identifier: MIT
// The Driver owns the OS poller and a fixed event buffer; turn() polls once and dispatches every event
// in O(1) from its token to the source's ScheduledIo. Shaped like Tokio's runtime/io/driver.rs.
//
// Threading: turn() and shutdown() belong to one thread, the driver's. The Handle (add_source,
// deregister, wake) may be used from any thread. Memory: all of it is taken in init(), from the
// caller's storage or in one allocation per table, and never again.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <type_traits>

#include "emio/alloc/slot_arena.h"
#include "emio/driver/backend.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/fd_index.h"
#include "emio/driver/handle.h"
#include "emio/driver/operation.h"
#include "emio/driver/readiness_operations.h"
#include "emio/driver/scheduled_io.h"
#include "emio/port/mutex.h"
#include "emio/port/wake_event.h"

namespace emio {

using RegistrationSlot = ArenaSlot<ScheduledIo>;
static_assert(sizeof(void*) != 8 || sizeof(RegistrationSlot) <= 64, "per-registration state exceeds 64 bytes");

inline constexpr int wait_forever = -1;

// The port's wake event, which the driver watches like any source; none where the backend wakes the
// driver its own way (OwnsDriverWake: kqueue, IOCP). Windows has no WakeEvent at all.
struct BackendOwnsTheWake {};
using DriverWakeEvent = std::conditional_t<OwnsDriverWake<Backend>, BackendOwnsTheWake, WakeEvent>;

struct DriverConfig {
  // Used when the storage spans below are empty: the driver then makes one allocation per table in init().
  uint32_t registration_capacity = 1024;
  uint32_t event_capacity = 256;  // events taken from the kernel per turn; more wait for the next turn
  // Caller-provided storage (static arrays, see DriverStorage): no heap at all.
  std::span<RegistrationSlot> registration_storage{};
  std::span<Backend::Event> event_storage{};
  // FdIndex::entries_for(registration capacity) entries (DriverStorage has them); empty: one allocation.
  std::span<uint32_t> fd_index_storage{};
  // Which backend runs (only those compiled in are accepted: Error::backend_unavailable otherwise). An
  // io_uring choice runs epoll instead when the kernel refuses io_uring (see Driver::fallback_reason).
  BackendChoice backend = BackendChoice::automatic;
  UringOptions uring{};
  KqueueOptions kqueue{};
  // Completion operations in flight at once; on io_uring at most the completion queue's size.
  uint32_t operation_capacity = 256;
  // Buffers for recv_multishot operations (operation.h); none by default.
  ReceiveBufferOptions receive_buffers{};
};

// Static storage for a driver, for builds that use no heap at all:
//   static emio::DriverStorage<64, 32> storage;  driver.init(storage.config());
template <uint32_t RegistrationCapacity, uint32_t EventCapacity>
struct DriverStorage {
  static_assert(RegistrationCapacity > 0 && RegistrationCapacity <= Token::max_slots);
  static_assert(EventCapacity > 0);
  RegistrationSlot registrations[RegistrationCapacity];
  Backend::Event events[EventCapacity];
  uint32_t fd_index[FdIndex::entries_for(RegistrationCapacity)];
  DriverConfig config() {
    DriverConfig config{RegistrationCapacity, EventCapacity, registrations, events};
    config.fd_index_storage = fd_index;
    return config;
  }
};

// Counters for operators and tests. The driver thread writes the plain ones; wake_signals is atomic.
struct DriverStats {
  uint64_t turns = 0;
  uint64_t events_dispatched = 0;
  uint64_t stale_events_dropped = 0;  // events whose registration was removed before they were seen
  uint64_t wakes_received = 0;
  std::atomic<uint64_t> wake_signals{0};  // system calls made by Handle::wake()
};

class Driver {
 public:
  Driver() : instance_(driver_registry::enter()) {}
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;
  ~Driver();

  // Takes every table and opens the backend. On failure everything taken is given back, and init may be
  // called again (with other options, or once the cause is gone).
  Error init(const DriverConfig& config);
  // Polls once, waiting up to `max_wait_ms` (wait_forever: until an event or a wake; 0: not at all), and
  // dispatches every event. Returns how many reached a live registration. A signal interrupting the wait
  // (EINTR) counts as a turn with no events.
  Result<uint32_t> turn(int max_wait_ms);
  // Marks every registration shut down and wakes every waiter; later add_source and turn calls fail
  // with Error::shut_down. The destructor does it too.
  void shutdown();

  Handle handle() { return Handle(this, instance_); }
  const DriverStats& stats() const { return stats_; }
  uint32_t registration_capacity() const { return registrations_.capacity(); }
  uint32_t live_registrations();
  // The backend this driver runs: "epoll", "uring", "kqueue" or "iocp" (after init; "epoll" before in an
  // io_uring build).
  const char* backend_name() const { return backend_.active_name(); }
  // Why an io_uring choice runs on epoll (ENOSYS, EPERM, EINVAL, backend_unavailable); ok otherwise.
  Error fallback_reason() const { return backend_.fallback_reason(); }

  // --- Completion operations (operation.h); driver thread only ---

  // Makes `source` the operations' handle on `fd` (non-blocking, owned by the caller). With a registered
  // file table (UringOptions::registered_file_capacity) the fd takes a slot in it: ENFILE when full.
  Error attach(OpSource& source, int fd);
  // Forgets `source` without closing its fd. EBUSY while an operation on it is in flight.
  Error detach(OpSource& source);
  // Starts `op`; its completion runs in a later turn() (or in shutdown(), with ECANCELED). EBUSY when
  // operation_capacity operations are in flight or the source's direction is taken, EALREADY when `op`
  // itself is in flight, Error::shut_down after shutdown. Nothing runs for a refused operation. On epoll a
  // source takes a registration slot at its first EAGAIN: with the table full, its operation completes
  // with ENOBUFS (the driver fuzz target, docs/testing.md, allows exactly that).
  Error submit(Operation& op);
  // Sets `count` of operation_capacity aside for submit_reserved (EINVAL: more than is left). For an owner
  // whose operations must never be refused because others filled the ledger (NativeStreamPool: a closing
  // stream's cancel, review defect 3).
  Error reserve_operations(uint32_t count) { return operations_.reserve(count); }
  // As submit, from the reserved share: EBUSY only once the reserved operations are all in flight.
  Error submit_reserved(Operation& op);
  uint32_t operations_in_flight() const { return operations_.count(); }
  uint32_t operation_capacity() const { return operations_.capacity(); }
  // True when recv_leased and read_leased operations run: io_uring with receive buffers
  // (DriverConfig::receive_buffers).
  bool takes_leased_receives() const;
  // Gives the buffer a completed recv_leased or read_leased operation holds back to the kernel; op.buffer is null then.
  void release_buffer(Operation& op);
  // True when the backend carries operations out natively (io_uring, which may have fallen back to epoll
  // at init: decided per driver at run time; IOCP, for accept, connect, recv, send, read, write and their
  // cancels), false on readiness (epoll, kqueue).
  bool runs_native_operations() const {
#if defined(EMIO_BACKEND_URING)
    return backend_.kind() == DynamicBackend::Kind::uring;
#elif defined(EMIO_BACKEND_IOCP)
    return true;
#else
    return false;
#endif
  }

 private:
  friend class Handle;

  // The driver's own events carry a non-zero tag, which no arena token has.
  static constexpr Token wake_token = Token::make(0, 0, 0xFF);

  // Whether turns run the readiness engine: everywhere but on io_uring, whose kernel runs every kind. On
  // IOCP it runs timeouts, close and the multishot kinds (docs/design.md, "Windows (IOCP)").
  bool runs_readiness_operations() const {
#if defined(EMIO_BACKEND_IOCP)
    return true;
#else
    return !runs_native_operations();
#endif
  }
  static void wake_from_backend(void* driver);
  // What a registration's ScheduledIo holds now (ReadinessProbe): IOCP's edge emulation asks.
  static Ready readiness_of(void* driver, Token token);
  template <typename EventReader>
  void dispatch(const Backend::Event& event, scheduled_io_detail::WakeFrame& turn_frame);
  template <typename EventReader>
  void dispatch_all(uint32_t count);
  void dispatch_wake(const Backend::Event& event);
  void arm_again(Token token);
  Error open_resources(const DriverConfig& config);
  // The wake event: the port's WakeEvent watched by the backend, or the backend's own (OwnsDriverWake).
  Error open_wake();
  Error signal_wake();
  void release_resources();
  Error init_events(const DriverConfig& config);
  Error init_fd_index(const DriverConfig& config);
  Error init_operations(const DriverConfig& config);
  Error start_operation(Operation& op, bool reserved);
  void cancel_operations();
  // Handle's work, under registrations_lock_ (driver_registrations.cc).
  Result<Registration> add_locked(int fd, Interest interest);
  // For a backend that does not refuse them itself: EBADF, EPERM for an always-ready file; else the
  // file's identity.
  Result<uint64_t> check_pollable(int fd);
  Error remove_locked(Registration registration, ScheduledIo*& removed);
  int fd_of_slot(uint32_t slot) { return registrations_.at(slot).fd(); }

  Backend backend_;
  std::span<Backend::Event> events_{};
  Backend::Event* owned_events_ = nullptr;
  uint32_t* owned_fd_index_ = nullptr;
  [[no_unique_address]] DriverWakeEvent wake_event_;
  std::atomic<bool> wake_pending_{false};
  DriverStats stats_;
  OperationLedger operations_;
  ReadinessOperations readiness_operations_;  // the operations engine on epoll and kqueue, a part of it on IOCP

  // Guarded by registrations_lock_: the arena's free list and the shut-down flag. ScheduledIo state is
  // atomic and read by turn() without the lock.
  Mutex registrations_lock_;
  SlotArena<ScheduledIo> registrations_;
  FdIndex fd_index_;
  std::atomic<bool> shut_down_{false};  // written under the lock, read by turn() without it
  // Set last in init; Handle::wake reads it (any thread) to know whether the wake event exists yet.
  std::atomic<bool> initialised_{false};
  driver_registry::Instance instance_;  // this driver in the live-driver table, for its Handles
};

}  // namespace emio
