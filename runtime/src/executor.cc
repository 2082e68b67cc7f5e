// SPDX-License-Identifier: MIT
#include "emio/runtime/executor.h"

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <new>
#include <type_traits>

#include "emio/port/clock.h"
#include "emio/runtime/errors.h"

namespace emio {
namespace {

constexpr uint32_t end_of_list = UINT32_MAX;

// The shorter of two turn timeouts, where -1 means "no limit".
int shorter_timeout(int first_ms, int second_ms) {
  if (first_ms < 0) return second_ms;
  if (second_ms < 0) return first_ms;
  return first_ms < second_ms ? first_ms : second_ms;
}

}  // namespace

namespace detail {
void wake_task(void* context) {
  auto& slot = *static_cast<TaskSlot*>(context);
  switch (slot.state) {
    case TaskSlot::State::parked:
      slot.state = TaskSlot::State::scheduled;
      slot.executor->ready_.push_back(slot.runnable);
      break;
    case TaskSlot::State::running:
      slot.notified = true;  // queued again once it yields
      break;
    case TaskSlot::State::scheduled:
    case TaskSlot::State::free:  // a stale waker of a finished task
      break;
  }
}

void note_budget_spent(TaskSlot& slot) {
  slot.executor->stats_.coop_yields += 1;
  slot.notified = true;  // the task is running: queued last once it suspends
}
}  // namespace detail

Executor::~Executor() {
  // First, so that no operation the kernel still holds points into a coroutine frame destroyed below.
  if (driver_started_) driver_.shutdown();
  destroy_tasks();
  frame_pool_.uninstall();
  delete[] owned_slots_;
  delete[] owned_inbox_;
}

Error Executor::init(const ExecutorConfig& config) {
  if (initialised_) return Error::from_errno(EALREADY);
  const DriverConfig driver_config = NativeStreamPool::driver_config(config.driver, config.native_streams);
  if (Error error = driver_.init(driver_config); error.failed()) {
    NativeStreamPool::explain_refusal(error, driver_config, config.native_streams);
    return error;
  }
  driver_started_ = true;
  if (Error error = native_streams_.init(driver_, config.native_streams); error.failed()) return error;
  if (Error error = read_view_buffers_.init(config.read_view_buffers.count, config.read_view_buffers.buffer_bytes);
      error.failed()) {
    return error;
  }
  const Error timers =
      config.timer_storage.empty() ? timers_.init(config.timer_capacity) : timers_.init(config.timer_storage);
  if (timers.failed()) return timers;
  if (Error error = init_tables(config); error.failed()) return error;
  if (Error error = init_frames(config); error.failed()) return error;
  coop_budget_ = config.coop_budget;
  initialised_ = true;
  return Error{};
}

Error Executor::init_tables(const ExecutorConfig& config) {
  std::span<detail::TaskSlot> tasks = config.task_storage;
  if (tasks.empty() && config.task_capacity > 0) {
    owned_slots_ = new (std::nothrow) detail::TaskSlot[config.task_capacity];
    if (owned_slots_ != nullptr) tasks = std::span(owned_slots_, config.task_capacity);
  }
  std::span<InboxEntry> inbox = config.inbox_storage;
  if (inbox.empty() && config.inbox_capacity > 0) {
    owned_inbox_ = new (std::nothrow) InboxEntry[config.inbox_capacity];
    if (owned_inbox_ != nullptr) inbox = std::span(owned_inbox_, config.inbox_capacity);
  }
  if (tasks.empty() || inbox.empty()) return Error::no_storage;
  slots_ = tasks.data();
  task_capacity_ = static_cast<uint32_t>(tasks.size());
  inbox_ = inbox.data();
  inbox_capacity_ = static_cast<uint32_t>(inbox.size());
  for (uint32_t i = 0; i < task_capacity_; ++i) {
    slots_[i].executor = this;
    slots_[i].runnable.run = &Executor::run_slot;
    slots_[i].next_free = i + 1 < task_capacity_ ? i + 1 : end_of_list;
  }
  free_head_ = 0;
  return Error{};
}

Error Executor::init_frames(const ExecutorConfig& config) {
  if (config.frame_count == 0) return Error{};
  const Error pool = config.frame_storage.empty() ? frame_pool_.init(config.frame_size_bytes, config.frame_count)
                                                  : frame_pool_.init(config.frame_storage, config.frame_size_bytes);
  if (pool.failed()) return pool;
  return frame_pool_.install();
}

void Executor::destroy_tasks() {
  // Destroying a suspended coroutine runs its locals' destructors: each parked awaiter cancels its waker
  // and timer while the driver and the timers still exist.
  for (uint32_t i = 0; i < task_capacity_; ++i) {
    detail::TaskSlot& slot = slots_[i];
    if (slot.state == detail::TaskSlot::State::free) continue;
    ready_.remove(slot.runnable);
    if (slot.root) slot.root.destroy();
    free_slot(slot);
  }
  for (uint32_t i = 0; i < inbox_size_; ++i) {
    InboxEntry& entry = inbox_[(inbox_head_ + i) % inbox_capacity_];
    if (entry.coroutine) entry.coroutine.destroy();
  }
  inbox_size_ = 0;
}

// --- Spawning ---

Result<TaskId> Executor::spawn(void (*callback)(void* context), void* context) {
  if (callback == nullptr) return Error::from_errno(EINVAL);
  return spawn_entry(InboxEntry{callback, context, {}});
}

Result<TaskId> Executor::spawn(Task<>&& task) {
  if (!task.valid()) return FramePool::last_allocation_error();
  Result<TaskId> spawned = spawn_entry(InboxEntry{nullptr, nullptr, task.coroutine()});
  if (spawned.ok()) (void)task.release();
  return spawned;
}

Result<TaskId> Executor::spawn_entry(const InboxEntry& entry) {
  if (!initialised_) return Error::shut_down;
  detail::TaskSlot* slot = allocate_slot();
  if (slot == nullptr) return capacity_full;
  return start(*slot, entry);
}

TaskId Executor::start(detail::TaskSlot& slot, const InboxEntry& entry) {
  slot.callback = entry.callback;
  slot.context = entry.context;
  if (entry.coroutine) {
    entry.coroutine.promise().slot = &slot;
    slot.root = entry.coroutine;
    slot.resume_point = entry.coroutine;
  }
  slot.state = detail::TaskSlot::State::scheduled;
  ready_.push_back(slot.runnable);
  return TaskId{static_cast<uint32_t>(&slot - slots_), slot.generation};
}

detail::TaskSlot* Executor::allocate_slot() {
  if (free_head_ == end_of_list) return nullptr;
  detail::TaskSlot& slot = slots_[free_head_];
  free_head_ = slot.next_free;
  live_tasks_ += 1;
  return &slot;
}

void Executor::free_slot(detail::TaskSlot& slot) {
  slot.state = detail::TaskSlot::State::free;
  slot.notified = false;
  slot.callback = nullptr;
  slot.context = nullptr;
  slot.root = {};
  slot.resume_point = {};
  slot.park_hook = nullptr;
  slot.park_context = nullptr;
  slot.generation += 1;  // TaskIds and wakers of the finished task no longer match
  slot.next_free = free_head_;
  free_head_ = static_cast<uint32_t>(&slot - slots_);
  live_tasks_ -= 1;
}

bool Executor::is_done(TaskId task) const {
  return task.index >= task_capacity_ || slots_[task.index].generation != task.generation;
}

// --- Running ---

void Executor::run_slot(Runnable& runnable) {
  static_assert(std::is_standard_layout_v<detail::TaskSlot> && offsetof(detail::TaskSlot, runnable) == 0,
                "the ready queue's Runnable must be the slot's first member for this cast");
  auto& slot = reinterpret_cast<detail::TaskSlot&>(runnable);
  Executor& executor = *slot.executor;
  slot.state = detail::TaskSlot::State::running;
  slot.notified = false;
  if (slot.root) {
    executor.run_coroutine(slot);
  } else {
    executor.run_callback(slot);
  }
}

void Executor::run_callback(detail::TaskSlot& slot) {
  stats_.tasks_run += 1;
  stats_.tasks_completed += 1;
  slot.callback(slot.context);
  free_slot(slot);
}

void Executor::run_coroutine(detail::TaskSlot& slot) {
  if (slot.park_hook != nullptr) {
    if (!slot.park_hook(slot.park_context)) {
      stats_.polls_pending += 1;
      slot.state = detail::TaskSlot::State::parked;
      if (slot.notified) detail::wake_task(&slot);
      return;
    }
    slot.park_hook = nullptr;
  }
  stats_.tasks_run += 1;
  slot.budget_left = coop_budget_;
  slot.resume_point.resume();
  if (slot.root.done()) {
    stats_.tasks_completed += 1;
    slot.root.destroy();
    free_slot(slot);
    return;
  }
  slot.state = detail::TaskSlot::State::parked;
  if (slot.notified) detail::wake_task(&slot);
}

void Executor::run_ready() {
  // Only what was ready when this pass began: a task that wakes itself waits for the next iteration.
  for (uint32_t count = ready_.size(); count > 0; --count) {
    Runnable* runnable = ready_.pop_front();
    if (runnable == nullptr) break;
    runnable->run(*runnable);
  }
}

Error Executor::run_once(int max_wait_ms) {
  if (!initialised_) return Error::shut_down;
  stats_.iterations += 1;
  drain_inbox();
  int timeout_ms = shorter_timeout(max_wait_ms, timers_.next_timeout_ms(monotonic_now_ms()));
  if (!ready_.empty() || stop_requested_.load(std::memory_order_relaxed)) timeout_ms = 0;
  Result<uint32_t> turned = driver_.turn(timeout_ms);
  if (!turned.ok()) return turned.error();
  stats_.timers_fired += timers_.fire_due(monotonic_now_ms());
  run_ready();
  return Error{};
}

Error Executor::run() {
  for (;;) {
    if (stop_requested_.exchange(false, std::memory_order_acq_rel)) return Error{};
    if (Error error = run_once(wait_forever); error.failed()) return error;
  }
}

Error Executor::run_until(bool (*condition)(void* context), void* context) {
  for (;;) {
    if (condition(context)) return Error{};
    if (stop_requested_.exchange(false, std::memory_order_acq_rel)) return Error::from_errno(ECANCELED);
    if (Error error = run_once(wait_forever); error.failed()) return error;
  }
}

Error Executor::run_until(TaskId task) {
  struct Awaited {
    Executor* executor;
    TaskId task;
  } awaited{this, task};
  return run_until(
      [](void* context) {
        auto* awaited = static_cast<Awaited*>(context);
        return awaited->executor->is_done(awaited->task);
      },
      &awaited);
}

void Executor::stop() {
  stop_requested_.store(true, std::memory_order_release);
  if (initialised_) driver_.handle().wake();
}

// --- The inbox ---

Error Executor::push_inbox(const InboxEntry& entry) {
  {
    std::lock_guard<Mutex> guard(inbox_lock_);
    if (!initialised_) return Error::shut_down;
    if (inbox_size_ == inbox_capacity_) return capacity_full;
    inbox_[(inbox_head_ + inbox_size_) % inbox_capacity_] = entry;
    inbox_size_ += 1;
  }
  driver_.handle().wake();
  return Error{};
}

void Executor::drain_inbox() {
  std::lock_guard<Mutex> guard(inbox_lock_);
  // Entries wait in the inbox, in order, while the task table is full.
  while (inbox_size_ > 0 && free_head_ != end_of_list) {
    const InboxEntry entry = inbox_[inbox_head_];
    inbox_head_ = (inbox_head_ + 1) % inbox_capacity_;
    inbox_size_ -= 1;
    (void)start(*allocate_slot(), entry);
    stats_.remote_spawns += 1;
  }
}

Error RemoteSpawner::spawn(void (*callback)(void* context), void* context) const {
  if (callback == nullptr) return Error::from_errno(EINVAL);
  return executor_->push_inbox(Executor::InboxEntry{callback, context, {}});
}

Error RemoteSpawner::spawn(Task<>&& task) const {
  if (!task.valid()) return FramePool::last_allocation_error();
  const Error pushed = executor_->push_inbox(Executor::InboxEntry{nullptr, nullptr, task.coroutine()});
  if (pushed.ok()) (void)task.release();
  return pushed;
}

}  // namespace emio
