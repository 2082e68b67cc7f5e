// SPDX-License-Identifier: MIT
// The Executor: a single-threaded run loop over one Driver, one TimerQueue and a fixed table of tasks.
//
// Each iteration: take spawns from other threads (the inbox), turn the driver with the next timer
// deadline as the timeout (0 when tasks are ready), fire due timers, then run the tasks that were ready
// when the iteration started, oldest first (FIFO). A task queued meanwhile runs next iteration, so a
// task that keeps waking itself cannot starve IO or timers. A task whose operations keep completing
// without waiting yields after `coop_budget` of them, so it cannot starve the other tasks either.
//
// A task is a callback (function pointer + context, run once) or an emio::Task<> coroutine (task.h)
// whose frame comes from the FramePool sized here. Everything is allocated in init(); nothing after.
//
// Threading: every method belongs to the executor's thread except stop() and remote() (RemoteSpawner),
// which any thread may use. Fork: re-create the executor in the child (the driver's poller is shared
// with the parent otherwise).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>  // std::lock_guard
#include <span>

#include "emio/driver/driver.h"
#include "emio/port/mutex.h"
#include "emio/runtime/buffer_pool.h"
#include "emio/runtime/frame_pool.h"
#include "emio/runtime/native_stream.h"
#include "emio/runtime/ready_queue.h"
#include "emio/runtime/task.h"
#include "emio/runtime/timer.h"

namespace emio {

namespace detail {
// A task not yet in a slot: a callback, or a coroutine's frame. Public for ExecutorStorage only.
struct InboxEntry {
  void (*callback)(void* context) = nullptr;
  void* context = nullptr;
  Task<>::CoroutineHandle coroutine{};
};
}  // namespace detail

struct ExecutorConfig {
  DriverConfig driver{};
  uint32_t task_capacity = 64;       // tasks alive at once: callbacks waiting to run and coroutines
  uint32_t timer_capacity = 64;      // timers armed at once, including sleeps and with_timeout deadlines
  uint32_t frame_size_bytes = 1024;  // the largest coroutine frame (the compiler decides each frame's size)
  uint32_t frame_count = 32;         // coroutine frames alive at once, nested Tasks included; 0: no coroutines
  uint32_t inbox_capacity = 32;      // spawns from other threads not yet taken by the executor
  // Cooperative budget: operations a coroutine may complete without waiting, per run, before it yields to
  // the other ready tasks (Tokio uses 128). 0 turns it off (a task then runs until it waits).
  uint16_t coop_budget = 128;
  // Streams that read and write through completion operations when the driver runs them natively
  // (io_uring; native_stream.h); none by default. init() sizes the driver for them
  // (NativeStreamPool::driver_config).
  NativeStreamOptions native_streams{};
  // The buffers ByteStream::read_view lends on readiness (read_view.h), one per view not yet released and
  // per read between its recv and its answer; none by default (read_view answers ENOBUFS there). On the
  // ring, views lend the receive buffers instead.
  BufferPoolOptions read_view_buffers{};
  // Caller storage (static arrays, see ExecutorStorage). A non-empty span is used instead of an
  // allocation, and its size replaces the matching capacity above.
  std::span<detail::TaskSlot> task_storage{};
  std::span<Timer*> timer_storage{};
  std::span<std::byte> frame_storage{};  // FramePool::block_bytes_for(frame_size_bytes) per frame, aligned
  std::span<detail::InboxEntry> inbox_storage{};
};

// Static storage for an executor, for builds that use no heap at all (with DriverStorage):
//   static emio::DriverStorage<64, 32> driver_storage;
//   static emio::ExecutorStorage<32, 32, 1024, 16> storage;
//   executor.init(storage.config(driver_storage.config()));
template <uint32_t TaskCapacity, uint32_t TimerCapacity, uint32_t FrameSizeBytes, uint32_t FrameCount,
          uint32_t InboxCapacity = 16>
struct ExecutorStorage {
  static_assert(TaskCapacity > 0 && TimerCapacity > 0 && InboxCapacity > 0);
  static_assert(FrameCount == 0 || FrameSizeBytes > 0);
  static constexpr size_t frame_bytes = FramePool::block_bytes_for(FrameSizeBytes) * FrameCount;

  detail::TaskSlot tasks[TaskCapacity];
  Timer* timers[TimerCapacity];
  alignas(FramePool::header_bytes) std::byte frames[frame_bytes > 0 ? frame_bytes : 1];
  detail::InboxEntry inbox[InboxCapacity];

  ExecutorConfig config(const DriverConfig& driver) {
    ExecutorConfig config;
    config.driver = driver;
    config.frame_size_bytes = FrameSizeBytes;
    config.frame_count = FrameCount;
    config.task_storage = tasks;
    config.timer_storage = timers;
    if (FrameCount > 0) config.frame_storage = std::span<std::byte>(frames, frame_bytes);
    config.inbox_storage = inbox;
    return config;
  }
};

// Names a spawned task; stays meaningful after the task ends (the slot's generation moves on).
struct TaskId {
  uint32_t index = 0;
  uint32_t generation = 0;
};

struct ExecutorStats {
  uint64_t iterations = 0;
  uint64_t tasks_run = 0;        // callbacks run and coroutine resumptions (polls that completed)
  uint64_t tasks_completed = 0;  // callback tasks run and coroutines finished
  uint64_t polls_pending = 0;    // wakes whose re-poll found the operation still pending (spurious)
  uint64_t timers_fired = 0;
  uint64_t remote_spawns = 0;  // tasks taken from the inbox
  uint64_t coop_yields = 0;    // times a task used up its cooperative budget and was queued last
};

class Executor;

// What other threads use to hand work to the executor: through a fixed, lock-protected inbox and the
// driver's Handle::wake. Copy it freely; keep the executor alive longer than any copy.
class RemoteSpawner {
 public:
  RemoteSpawner() = default;
  explicit RemoteSpawner(Executor* executor) : executor_(executor) {}

  // Queues `callback(context)` to run once on the executor's thread. Errors: capacity_full (ENOSPC)
  // when the inbox is full, Error::shut_down after the executor stopped for good.
  Error spawn(void (*callback)(void* context), void* context) const;
  // Queues a coroutine. Errors: frame_pool_exhausted or frame_too_large for an invalid task, and those above; on an
  // error `task` keeps its frame (and frees it when destroyed).
  Error spawn(Task<>&& task) const;

 private:
  Executor* executor_ = nullptr;
};

class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  // Shuts the driver down (every waiter wakes, every in-flight completion operation completes with
  // ECANCELED), destroys every coroutine still alive (their awaiters cancel their wakers and timers),
  // then the timers and the driver. IO resources, Timers and IoWatches must not outlive the executor.
  ~Executor();

  // Initialises the driver (config.driver), the timer heap, the task table, the inbox and the frame pool,
  // which it installs for emio::Task (EBUSY if another executor's pool is installed). Each table comes
  // from the config's storage span when given (no heap), else from one allocation.
  // Errors: EALREADY if initialised; Error::no_storage for a zero capacity or a failed allocation; the
  // driver's errors.
  Error init(const ExecutorConfig& config);

  // Queues `callback(context)` to run once, after the tasks already ready. Errors: capacity_full.
  Result<TaskId> spawn(void (*callback)(void* context), void* context);
  // Takes `task` and queues it. Errors: frame_pool_exhausted or frame_too_large (FramePool::last_oversized_frame_bytes
  // says how big) when the coroutine got no frame (an invalid
  // Task), capacity_full when the task table is full (the task keeps its frame then).
  Result<TaskId> spawn(Task<>&& task);

  // Runs iterations until stop(). Returns the first driver error (Error::shut_down, or an OS error).
  Error run();
  // Runs iterations until `condition(context)` is true; it is checked before each iteration. Something
  // that changes it from another thread must also wake the executor (RemoteSpawner, Handle::wake).
  // Returns Error{} once it holds, ECANCELED if stop() came first, or a driver error.
  Error run_until(bool (*condition)(void* context), void* context);
  // Runs iterations until `task` has finished (at once if it already has).
  Error run_until(TaskId task);
  // Runs one iteration, waiting up to `max_wait_ms` for IO (capped by the next timer; 0 if tasks are
  // ready; wait_forever for no cap). For callers that own their loop, such as the C API.
  Error run_once(int max_wait_ms);
  // Makes run() return after the current iteration. Any thread, and signal-safe except for the wake's
  // write(2)/eventfd, which is async-signal-safe too.
  void stop();

  // True once `task` has run to completion (callbacks: once run).
  bool is_done(TaskId task) const;

  // The driver's Handle: what IO resources are opened with (TcpListener::bind(executor.handle(), ...)).
  Handle handle() { return driver_.handle(); }
  // The driver itself, for its stats and completion operations; turn it only through this executor.
  Driver& driver() { return driver_; }
  // The records of streams on completion operations (empty unless configured and the driver runs them).
  NativeStreamPool& native_streams() { return native_streams_; }
  // The buffers read views lend on readiness (ExecutorConfig::read_view_buffers).
  BufferPool& read_view_buffers() { return read_view_buffers_; }
  // The timers the loop fires; start caller-owned Timers here (executor thread only).
  TimerQueue& timers() { return timers_; }
  // The coroutine frame pool, for its counters (frames_in_use, allocation_failures).
  FramePool& frame_pool() { return frame_pool_; }
  // A spawner for other threads.
  RemoteSpawner remote() { return RemoteSpawner(this); }
  // The backend the driver runs: "epoll", "uring" or "kqueue".
  const char* backend_name() { return driver_.backend_name(); }
  const ExecutorStats& stats() const { return stats_; }
  // Tasks spawned and not yet finished (callbacks not yet run included), out of task_capacity().
  uint32_t live_tasks() const { return live_tasks_; }
  uint32_t task_capacity() const { return task_capacity_; }

  // Puts `runnable` at the back of the ready queue (once). Executor thread only; for wakers and IoWatch.
  void schedule(Runnable& runnable) { ready_.push_back(runnable); }
  // Takes `runnable` out of the ready queue, for an owner that goes away while queued.
  void unschedule(Runnable& runnable) { ready_.remove(runnable); }

 private:
  friend class RemoteSpawner;
  friend void detail::wake_task(void* slot);
  friend void detail::note_budget_spent(detail::TaskSlot& slot);

  using InboxEntry = detail::InboxEntry;

  static void run_slot(Runnable& runnable);
  void run_callback(detail::TaskSlot& slot);
  void run_coroutine(detail::TaskSlot& slot);
  detail::TaskSlot* allocate_slot();
  void free_slot(detail::TaskSlot& slot);
  TaskId start(detail::TaskSlot& slot, const InboxEntry& entry);
  Result<TaskId> spawn_entry(const InboxEntry& entry);
  Error push_inbox(const InboxEntry& entry);
  void drain_inbox();
  void run_ready();
  Error init_tables(const ExecutorConfig& config);
  Error init_frames(const ExecutorConfig& config);
  void destroy_tasks();

  Driver driver_;
  NativeStreamPool native_streams_;  // after driver_: destroyed first, once the driver completed every record
  BufferPool read_view_buffers_;
  TimerQueue timers_;
  FramePool frame_pool_;
  ReadyQueue ready_;
  detail::TaskSlot* slots_ = nullptr;
  detail::TaskSlot* owned_slots_ = nullptr;  // slots_ when init allocated it
  uint32_t task_capacity_ = 0;
  uint32_t free_head_ = 0;
  uint32_t live_tasks_ = 0;
  uint16_t coop_budget_ = 0;
  ExecutorStats stats_;
  std::atomic<bool> stop_requested_{false};
  bool driver_started_ = false;  // the driver's init succeeded, even if a later step failed
  bool initialised_ = false;

  // The inbox: a ring guarded by inbox_lock_, filled by RemoteSpawner, drained by the executor.
  Mutex inbox_lock_;  // emio::Mutex: winpthreads' std::mutex allocates at its first lock
  InboxEntry* inbox_ = nullptr;
  InboxEntry* owned_inbox_ = nullptr;  // inbox_ when init allocated it
  uint32_t inbox_capacity_ = 0;
  uint32_t inbox_head_ = 0;
  uint32_t inbox_size_ = 0;
};

}  // namespace emio
