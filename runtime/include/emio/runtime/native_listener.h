// SPDX-License-Identifier: MIT
// Listeners over single-shot accepts on the ring: what TcpListener::accept and UnixListener::accept await
// when the driver runs operations natively (io_uring with receive buffers, as for native streams). The
// user code is the same as on epoll.
//
// One IORING_OP_ACCEPT is in flight per listener, and it owns a slot of the record's fixed queue: it is
// armed only while the queue has room, so every connection the kernel accepts has a place, and the
// others stay in the backlog as they would with accept4. Each completion queues its connection and arms
// the next accept while room is left, so connections are accepted ahead of the awaits, a queue's worth at
// most. No multishot accept: its retry loop accepts until the backlog is empty (EAGAIN), with no bound,
// and under SQPOLL or task work run before the CQEs are reaped it goes on accepting before a cancel
// reaches it; what overflowed the queue had to be closed, a reset for its client (the accept storm e2e
// test on uring-sqpoll lost 2 real clients that way).
//
// Errors are accept4's: the accept that fails (EMFILE, ENFILE) is not armed again, the next await
// reports the error, and the one after arms it. The kernel holds an accept to the fd limit it was armed
// under: a connection it took past a limit lowered since moves under the limit at its await, or stays
// queued while awaits report EMFILE, as accept4 would (take_oldest, take_ending_error). Closing the
// listener cancels the accept; the connections still queued are closed, and the listener's fd stays open
// until the kernel holds nothing of the record's. See docs/runtime.md, "Streams on io_uring".
#pragma once

#include <cstdint>
#include <optional>

#include "emio/alloc/slot_arena.h"
#include "emio/driver/driver.h"
#include "emio/driver/operation.h"
#include "emio/driver/waker.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "emio/port/result.h"
#include "emio/runtime/native_lease.h"

namespace emio {

class NativeListenerPool;

// One listener's accept in flight and its queue of accepted connections. Executor thread only.
class NativeListener {
 public:
  using Pool = NativeListenerPool;
  NativeListener() = default;
  NativeListener(const NativeListener&) = delete;
  NativeListener& operator=(const NativeListener&) = delete;
  ~NativeListener();  // closes the connections still queued (a listener left open at the Executor's end)

  static constexpr const char* kind_name = "release (a native listener's record)";
  // Connections accepted ahead of the awaits, the accept in flight's included (it owns a free slot).
  // One accept in flight adds one connection per completion and each await takes one, so a few slots
  // carry a burst between awaits; queued connections hold fds, where the backlog holds none.
  static constexpr uint32_t queue_capacity = 16;

  // The accept await: true once `output` holds an accepted connection (non-blocking, close-on-exec,
  // under the fd limit) or the error accept4 would report now (EMFILE while the oldest connection waits
  // for a free fd, or what the last accept failed with); false while none waits (`waker` is called when
  // one comes).
  bool poll_accept(Waker waker, std::optional<Result<Fd>>& output);
  // The await is abandoned: forget its waker; the accept in flight goes on into the queue.
  void forget_waiter() { waiter_ = {}; }

 private:
  friend class NativeListenerPool;
  template <typename>
  friend class NativeLease;
  static void on_accepted(void* record);
  static void on_cancelled(void* record);
  Error arm();
  Result<Fd> take_oldest();
  Error take_ending_error();
  bool idle() const { return !accept_.in_flight() && !cancel_.in_flight(); }
  void push(int fd);
  Fd pop();

  OpSource source_;
  Fd fd_;  // once the listener closed: its fd, open until the kernel holds nothing of the record's
  Operation accept_;
  Operation cancel_;  // the accept's cancel: at close, or while the oldest connection finds no free fd
  Waker waiter_{};
  NativeListenerPool* pool_ = nullptr;
  int32_t error_ = 0;  // -errno the last accept failed with (EMFILE, ENFILE), for the next await
  uint32_t head_ = 0;  // queue_[head_] is the oldest connection
  uint32_t count_ = 0;
  Token token_{};      // the record's slot in the pool, while a listener or the kernel holds it
  bool open_ = false;  // a listener owns the record; false and nothing in flight: free
  int32_t queue_[queue_capacity];
};

// The fixed pool of listener records, part of NativeStreamPool (made in Executor::init). Records never move.
class NativeListenerPool {
 public:
  // The accept and its cancel.
  static constexpr uint32_t operations_per_listener = 2;

  NativeListenerPool() = default;
  NativeListenerPool(const NativeListenerPool&) = delete;
  NativeListenerPool& operator=(const NativeListenerPool&) = delete;
  ~NativeListenerPool();

  // One allocation; its share of the driver's ledger was reserved by the caller.
  Error init(Driver& driver, uint32_t capacity);
  // A record attached to `fd`, or null: no pool, the pool is full, or the driver refused the fd.
  NativeListener* acquire(int fd);
  // The listener closes: its accept is cancelled, its queued connections closed; `fd` (the listener's,
  // deregistered) closes when the record frees, after its last completion.
  void release(NativeListener& listener, Fd fd);
  uint32_t in_use() const { return records_.live_count(); }
  Driver& driver() { return *driver_; }

 private:
  friend class NativeListener;
  void cancel(NativeListener& listener);
  void free_if_done(NativeListener& listener);

  Driver* driver_ = nullptr;
  SlotArena<NativeListener> records_;
};

// A listener's claim on its record (native_lease.h).
using NativeListenerLease = NativeLease<NativeListener>;

}  // namespace emio
