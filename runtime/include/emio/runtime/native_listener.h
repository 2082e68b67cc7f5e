// SPDX-License-Identifier: MIT
// Listeners over multishot accept: what TcpListener::accept and UnixListener::accept await when the
// driver runs operations natively (io_uring with receive buffers, as for native streams; multishot accept
// (5.19) came before the receive buffer ring (6.0) these need). The user code is the same as on epoll.
//
// One IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT stays in flight per listener and posts a completion
// per connection; the accepted fds wait in the record's fixed queue for the next accepts. The kernel
// accepts every connection of the backlog in one go once it fires, so the multishot is cancelled while
// the queue still has room for a backlog's worth more (stop_at), and armed again by the next accept that
// leaves room. It also ends on an error (EMFILE, ENFILE: the next accept reports it, as on epoll, and
// arms it again) and early, without IORING_CQE_F_MORE, for reasons of the kernel's own (the driver arms
// it again: complete_multishot). The kernel holds it to the fd limit it was armed under: a connection it
// took past a limit lowered since moves under the limit at its accept, or stays queued while accepts
// report EMFILE, as accept4 would (take_oldest, take_ending_error). Closing the listener cancels it; the connections
// still queued are closed, and the listener's fd stays open until the kernel holds nothing of the record's. See
// docs/runtime.md, "Streams on io_uring".
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

// One listener's multishot accept and its queue of accepted connections. Executor thread only.
class NativeListener {
 public:
  using Pool = NativeListenerPool;
  NativeListener() = default;
  NativeListener(const NativeListener&) = delete;
  NativeListener& operator=(const NativeListener&) = delete;
  ~NativeListener();  // closes the connections still queued (a listener left open at the Executor's end)

  static constexpr const char* kind_name = "release (a native listener's record)";
  // Accepted connections a listener holds for its next accepts.
  static constexpr uint32_t queue_capacity = 256;
  // The multishot is cancelled once this many wait: the rest of the queue takes what the kernel accepts
  // before the cancel reaches it (a backlog of up to 128, listen's default and ours; somaxconn allows
  // more, and a connection that finds the queue full is closed, as a full backlog would refuse it).
  static constexpr uint32_t stop_at = queue_capacity - 129;

  // The accept await: true once `output` holds an accepted connection (non-blocking, close-on-exec,
  // under the fd limit) or the error accept4 would report now (EMFILE while the oldest connection waits
  // for a free fd, or what ended the multishot); false while none waits (`waker` is called when one comes).
  bool poll_accept(Waker waker, std::optional<Result<Fd>>& output);
  // The await is abandoned: forget its waker; the multishot goes on.
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
  Operation cancel_;  // the multishot's cancel: at close, or when the queue reached stop_at
  Waker waiter_{};
  NativeListenerPool* pool_ = nullptr;
  int32_t error_ = 0;  // -errno that ended the multishot (EMFILE, ENFILE), for the next accept
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
  // The listener closes: its multishot is cancelled, its queued connections closed; `fd` (the listener's,
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
