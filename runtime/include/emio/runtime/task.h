// SPDX-License-Identifier: MIT
// emio::Task<T>: a C++20 coroutine the Executor runs, and the protocol its awaits follow.
//
//   emio::Task<> blink(emio::SerialPort& port) {
//     for (;;) {
//       Result<size_t> written = co_await port.write(message);
//       if (!written.ok()) co_return;
//       Error slept = co_await emio::sleep_ms(500);
//       ...
//     }
//   }
//   Result<TaskId> id = executor.spawn(blink(port));   // frame_pool_exhausted / frame_too_large: no frame
//
// Frames come from the executor's FramePool (frame_pool.h), never the heap. A Task starts suspended and
// runs only once spawned (or awaited by another Task). Task<void> is for spawning; a Task awaited inside
// another must return Error or Result<U>, so that a frame the pool could not give arrives as an error.
//
// What a Task may co_await:
//  - another Task<Error> / Task<Result<U>> (runs inline, frame from the pool);
//  - a Pollable operation: every awaitable emio makes (readiness, sleep, IO, signals, with_timeout).
// A Pollable is polled: it tries to complete, and if it cannot, stores the task's Waker where the event
// will find it and returns false. A woken task is put on the executor's FIFO ready queue (never resumed
// inside the driver's dispatch); when it runs, the operation is polled again and the coroutine resumes
// only if it completed, so a spurious wake costs one poll and nothing else.
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include "emio/driver/waker.h"
#include "emio/port/error.h"
#include "emio/port/result.h"
#include "emio/runtime/errors.h"
#include "emio/runtime/frame_pool.h"
#include "emio/runtime/ready_queue.h"

namespace emio {

class Executor;
template <typename T = void>
class Task;

// What an operation gets when it is polled: the executor it runs on (for its timers and driver
// handle) and the Waker that puts the polling task back on the ready queue.
struct PollContext {
  Executor& executor;
  Waker waker;
};

// The protocol of every emio awaitable. `Output` must be constructible from an Error (Error or Result<U>)
// so that with_timeout() can report timed_out through it.
template <typename Op>
concept Pollable = std::move_constructible<Op> && requires(Op op, PollContext& context) {
  typename Op::Output;
  { op.poll(context) } -> std::same_as<bool>;  // true: done, take_output() may be called
  { op.take_output() } -> std::same_as<typename Op::Output>;
  { op.cancel() } -> std::same_as<void>;  // forget any stored waker or timer: the await was abandoned
};

namespace detail {

// One task: a callback or a coroutine, in a fixed table the Executor owns. Public only because the
// promise and the awaiters below reach it; user code never touches it.
struct TaskSlot {
  enum class State : uint8_t { free, scheduled, running, parked };

  Runnable runnable;  // how the ready queue links it
  Executor* executor = nullptr;
  State state = State::free;
  bool notified = false;  // woken while running: queue it again once it yields
  // Operations this run may still complete without waiting before the task yields (the executor's
  // cooperative budget, refilled each time the task runs; 0 when the budget is off).
  uint16_t budget_left = 0;
  uint32_t generation = 0;
  uint32_t next_free = 0;
  // A callback task runs once:
  void (*callback)(void* context) = nullptr;
  void* context = nullptr;
  // A coroutine task:
  std::coroutine_handle<> root{};
  std::coroutine_handle<> resume_point{};      // the innermost coroutine suspended in this task
  bool (*park_hook)(void* context) = nullptr;  // re-polls the awaited operation; true: resume
  void* park_context = nullptr;
};

static_assert(sizeof(void*) != 8 || sizeof(TaskSlot) <= 104, "a task slot grew: task_capacity costs more RAM");

// Queues the task in `slot` (a TaskSlot*) on its executor, or marks a running one to be queued again
// (executor.cc): the function of every task's Waker.
void wake_task(void* slot);

// The Waker of a task. Inline: every poll of a parked task builds one.
inline Waker waker_of(TaskSlot& slot) { return Waker{&wake_task, &slot}; }

// Counts a yield for an exhausted budget and marks the running task to be queued last (executor.cc).
void note_budget_spent(TaskSlot& slot);

// Spends one unit of the task's cooperative budget on an operation that completed without waiting.
// True when the budget ran out and the task must yield.
inline bool budget_spent(TaskSlot& slot) {
  if (slot.budget_left == 0 || --slot.budget_left > 0) return false;  // off, or some left
  note_budget_spent(slot);
  return true;
}

inline void park(TaskSlot& slot, std::coroutine_handle<> suspended, bool (*hook)(void*), void* context) {
  slot.resume_point = suspended;
  slot.park_hook = hook;
  slot.park_context = context;
}

// co_await on a Pollable inside a Task: poll once, park with a re-poll hook if not done. It holds the
// operation by reference: the operation is the co_await's temporary, which lives until the whole
// expression (the suspension included) ends and is destroyed after this awaiter, so no move is paid on
// every await (bench-peers' profile of emio-echo).
template <Pollable Op>
class PollAwaiter {
 public:
  explicit PollAwaiter(Op& op) : op_(op) {}
  PollAwaiter(const PollAwaiter&) = delete;
  PollAwaiter& operator=(const PollAwaiter&) = delete;
  // Destroyed while parked: the task is being torn down, so the operation must forget its waker.
  ~PollAwaiter() {
    if (parked_) op_.cancel();
  }

  bool await_ready() const noexcept { return false; }
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> suspended) {
    slot_ = suspended.promise().slot;
    assert(slot_ != nullptr && "a Task must be spawned before it awaits");
    if (poll()) {
      // Done without waiting. A task whose every operation completes at once (a client that keeps the
      // socket full) would never give the others a turn: past its budget it yields with the output kept,
      // as Tokio's coop budget does.
      if (!budget_spent(*slot_)) return false;
      park(*slot_, suspended, &PollAwaiter::resume_with_output, this);
      return true;
    }
    parked_ = true;
    park(*slot_, suspended, &PollAwaiter::repoll, this);
    return true;
  }
  typename Op::Output await_resume() {
    parked_ = false;
    return op_.take_output();
  }

 private:
  bool poll();
  static bool repoll(void* self) { return static_cast<PollAwaiter*>(self)->poll(); }
  static bool resume_with_output(void*) { return true; }

  Op& op_;
  TaskSlot* slot_ = nullptr;
  bool parked_ = false;
};

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <typename Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> finished) noexcept {
    const std::coroutine_handle<> continuation = finished.promise().continuation;
    return continuation ? continuation : std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

class PromiseBase {
 public:
  // Frames come from the installed FramePool; nullptr (never a throw) when it is exhausted.
  static void* operator new(size_t size) noexcept { return FramePool::allocate_from_installed(size); }
  static void operator delete(void* frame, size_t) noexcept { FramePool::release(frame); }

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  // Built with -fno-exceptions: nothing can reach this.
  void unhandled_exception() const noexcept { std::abort(); }

  template <typename Awaitable>
  decltype(auto) await_transform(Awaitable&& awaitable) {
    using Plain = std::remove_cvref_t<Awaitable>;
    if constexpr (Pollable<Plain>) {
      static_assert(!std::is_lvalue_reference_v<Awaitable>,
                    "co_await an emio operation as a temporary: co_await stream.read(buffer)");
      return PollAwaiter<Plain>(awaitable);
    } else {
      return std::forward<Awaitable>(awaitable);
    }
  }

  TaskSlot* slot = nullptr;                // the task this coroutine runs in, once spawned or awaited
  std::coroutine_handle<> continuation{};  // the coroutine awaiting this one, if any
};

template <typename T>
class Promise : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  static Task<T> get_return_object_on_allocation_failure() noexcept { return Task<T>(); }
  template <typename Value>
  void return_value(Value&& value) {
    value_.emplace(std::forward<Value>(value));
  }
  T take_value() { return std::move(*value_); }

 private:
  std::optional<T> value_;
};

template <>
class Promise<void> : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  static Task<void> get_return_object_on_allocation_failure() noexcept;
  void return_void() const noexcept {}
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using CoroutineHandle = std::coroutine_handle<promise_type>;

  // An invalid Task: what a coroutine call returns when the frame pool was exhausted.
  Task() = default;
  explicit Task(CoroutineHandle handle) : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&&) = delete;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // Destroys a frame that was never spawned or awaited (its memory goes back to the pool).
  ~Task() {
    if (handle_) handle_.destroy();
  }

  // False when the coroutine could not get a frame.
  bool valid() const { return static_cast<bool>(handle_); }
  // The frame, still owned by this Task.
  CoroutineHandle coroutine() const { return handle_; }
  // Hands the frame over (to the executor); the Task becomes invalid.
  CoroutineHandle release() { return std::exchange(handle_, {}); }

  // Awaiting a Task runs it inside the awaiting task; the result is the callee's co_return value, or
  // frame_pool_exhausted / frame_too_large if it never got a frame.
  auto operator co_await() && noexcept;

 private:
  CoroutineHandle handle_{};
};

namespace detail {

template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object_on_allocation_failure() noexcept { return Task<void>(); }

template <typename T>
class TaskAwaiter {
 public:
  explicit TaskAwaiter(std::coroutine_handle<Promise<T>> child) : child_(child) {}
  bool await_ready() const noexcept { return !child_; }
  template <typename ParentPromise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<ParentPromise> parent) noexcept {
    child_.promise().slot = parent.promise().slot;
    child_.promise().continuation = parent;
    return child_;  // symmetric transfer: the child runs now, on this task
  }
  T await_resume() {
    if (!child_) return T(FramePool::last_allocation_error());
    return child_.promise().take_value();
  }

 private:
  std::coroutine_handle<Promise<T>> child_;
};

template <Pollable Op>
bool PollAwaiter<Op>::poll() {
  PollContext context{*slot_->executor, waker_of(*slot_)};
  return op_.poll(context);
}

}  // namespace detail

template <typename T>
auto Task<T>::operator co_await() && noexcept {
  static_assert(!std::is_void_v<T>,
                "a Task<void> can only be spawned; an awaited Task returns Error or Result<U>, so that an "
                "exhausted frame pool reaches the caller as an error");
  static_assert(std::is_constructible_v<T, Error>, "an awaited Task<T> needs T constructible from an Error");
  // The frame stays owned by this Task, which outlives the co_await expression.
  return detail::TaskAwaiter<T>(handle_);
}

}  // namespace emio
