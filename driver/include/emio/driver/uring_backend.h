// SPDX-License-Identifier: MIT
// The io_uring backend: readiness over POLL_ADD (multishot from 5.13, single-shot and re-armed on 5.10
// boards) and native completion operations. One of the backend files, same shape as the epoll one
// (see backend.h); with EMIO_BACKEND=uring the epoll backend is compiled in beside it, as its fallback.
//
// Threading: only the driver thread (the one that calls wait()) touches the submission queue, because the
// kernel ties a request to the task that submitted it (its task work runs there; its polls are cancelled
// when that task exits). add() and remove() called on another thread put a request in a fixed-capacity
// queue and wake the driver, whose next wait() applies it. Before the first wait() every add() and
// remove() is queued, so init may run on another thread than the turns (docs/io_uring.md).
#pragma once

#include <liburing.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>

#include "emio/alloc/token.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/interest.h"
#include "emio/driver/operation.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

// What the kernel offers, read once per process (see docs/io_uring.md for the kernel versions).
struct UringFeatures {
  bool multishot_poll = false;    // 5.13
  bool wait_timeout = false;      // IORING_FEAT_EXT_ARG, 5.11: a wait with a timeout and no timeout SQE
  bool multishot_accept = false;  // 5.19
  bool multishot_recv = false;    // 6.0
  // The probe answered, every opcode the operations use is there, and IORING_FEAT_FAST_POLL (5.7) lets
  // a recv on an empty socket wait on a poll instead of blocking an io-wq thread.
  bool completion_operations = false;
  bool cancel_any = false;  // IORING_ASYNC_CANCEL_ANY (5.19): one submission cancels every request
};

// How completions reach the driver thread (io_uring's "task work"), from the best the kernel has.
enum class UringTaskWork : uint8_t {
  signal,         // before 5.19: each completion interrupts the submitting thread (IPI + TWA_SIGNAL)
  cooperative,    // COOP_TASKRUN | TASKRUN_FLAG (5.19): no IPI; run at the thread's next system call
  deferred,       // SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG (6.1): run only inside our wait
  sqpoll_thread,  // SQPOLL: the kernel's submission thread issues and runs the work
};

class UringBackend {
 public:
  // Readiness events look like epoll's: the poll mask io_uring returns uses the same bits.
  using Event = epoll_event;
  static constexpr const char* name = "uring";
  static constexpr const char* sqpoll_name = "uring-sqpoll";  // what operators pass to --backend for it
  // Set in an Event when the poll behind it has ended (a single-shot poll fired, a multishot one
  // stopped on CQ overflow, or the kernel cancelled it unasked): the driver arms it again. epoll never
  // reports this bit to us.
  static constexpr uint32_t poll_ended_flag = EPOLLONESHOT;
  // Limits checked by validate() (EINVAL beyond them), so that a wrong option is never mistaken for a
  // kernel without io_uring. The kernel's own limits: IORING_MAX_ENTRIES, IORING_MAX_FIXED_FILES,
  // IORING_MAX_REG_BUFFERS.
  static constexpr uint32_t max_sq_entries = 32768;
  static constexpr uint32_t max_registered_files = 1u << 20;
  static constexpr size_t max_registered_buffers = 1u << 14;
  static constexpr uint32_t max_busy_poll_budget_us = 1'000'000;
  // Shutdown waits this long for the kernel to complete every operation, then says loudly that it could
  // not (the records must then stay alive: the kernel may still write into them).
  static constexpr uint64_t shutdown_deadline_ns = 10'000'000'000u;

  UringBackend() = default;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;
  ~UringBackend();

  // EINVAL for options no kernel would take (a ring size that is not a power of two or too big, a CPU
  // that does not exist, ...). DynamicBackend checks them before it tries io_uring.
  static Error validate(const BackendOptions& options);
  // Probes the kernel (once per process), then sets the ring up. ENOSYS, EPERM and EINVAL, or
  // Error::backend_unavailable, mean "io_uring cannot run here": the caller falls back to epoll.
  Error open(const BackendOptions& options);
  // Releases the ring and everything open() mapped; open() may run again. On the driver thread: the
  // registered ring fd belongs to it.
  void close() { close_ring(); }
  // Arms a poll for `interest`. What epoll refuses itself (EBADF, EPERM for regular files, EEXIST) the
  // driver refuses before calling this (refuses_duplicate_fds), with the one fstat it also needs for the
  // file's identity. On another thread than the driver's: EAGAIN when the request queue already holds
  // registration_capacity requests (the driver has not turned since).
  Error add(int fd, Token token, Interest interest);
  // Removes the poll. Never refused for want of room. The removal reaches the kernel with the driver's
  // next io_uring_enter and is retried until the kernel confirms it; only then does the ring let go of
  // the file. A poll still in the SQ, not yet published to the kernel, is turned into a NOP instead: the
  // kernel reads its fd number only when it takes it, so it would watch whatever file holds that number
  // then (another source's, once the fd was closed and reused), and its stale completions filled the
  // turns' event buffers ahead of live ones (driver fuzz finding of 2026-12-04). EBADF when `fd` was
  // closed first, as epoll.
  Error remove(int fd, Token token);
  // Reaps readiness events into `events` and completes operations, waiting up to `timeout_ms`. Applies
  // the queued requests first. The first call makes the calling thread the driver thread; a call on any
  // other thread afterwards is EEXIST.
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms);

  static Token token_of(const Event& event) { return Token::from_bits(event.data.u64); }
  static Ready ready_of(const Event& event);
  static bool interest_ended(const Event& event) { return (event.events & poll_ended_flag) != 0; }
  // io_uring accepts several polls on one fd; epoll's EEXIST is left to the driver.
  static constexpr bool refuses_duplicate_fds() { return false; }
  // "uring-sqpoll" while the kernel's submission thread runs (it may have been refused: then "uring").
  const char* active_name() const { return sqpoll() ? sqpoll_name : name; }
  Error fallback_reason() const { return Error{}; }  // falling back is DynamicBackend's business

  // --- Completion operations (the driver thread only) ---
  void use_ledger(OperationLedger* ledger) { ledger_ = ledger; }
  // Queues the submission; it reaches the kernel with the next wait's io_uring_enter.
  Error submit(Operation& op);
  // Driver shutdown: cancels every operation in flight and reaps until each has completed.
  void cancel_operations();
  // Gives a recv_leased or read_leased operation's buffer back to the provided buffer ring (nothing if it holds none).
  void release_buffer(Operation& op);
  bool has_receive_buffers() const { return buffer_count_ > 0; }

  // Kernel-bypass mode: puts `fd` in the registered files and returns its slot (ENFILE: table full,
  // or no table configured, or a kernel without sparse tables).
  Result<int32_t> register_file(int fd);
  void unregister_file(int32_t slot);
  bool has_file_table() const { return file_capacity_ > 0; }

  static UringFeatures features();
  uint32_t completion_queue_entries() const { return ring_.cq.ring_entries; }
  bool sqpoll() const { return (ring_.flags & IORING_SETUP_SQPOLL) != 0; }
  UringTaskWork task_work() const { return task_work_; }
  bool ring_fd_registered() const { return ring_fd_registered_; }
  // Requests waiting for the driver thread, and removals the kernel has not confirmed yet (tests).
  uint32_t queued_requests();
  uint32_t pending_removals() const { return removal_count_ + named_removal_count_; }

 private:
  struct Reaped {
    uint32_t events = 0;
    uint32_t completions = 0;
    bool any() const { return events + completions > 0; }
  };
  // An add or remove made on another thread, for the driver thread to apply.
  struct Request {
    uint64_t token_bits = 0;
    int32_t fd = -1;
    uint8_t interest_bits = 0;
    bool is_add = false;
  };
  // A removal the kernel has not confirmed: its cancel is queued, in the kernel, or refused for now.
  struct Removal {
    uint64_t token_bits = 0;
    bool used = false;          // zero-filled memory is a table of free entries
    bool submit_again = false;  // the kernel said EALREADY (the poll was being woken): ask again
    bool in_kernel = false;     // a cancel for it is on its way or in the kernel
    bool confirmed = false;     // the kernel found the poll and cancelled it: its last CQE will follow
    bool poll_ended = false;    // the poll's last CQE has been reaped
  };

  // user_data of the backend's own submissions: internal_tag in the top byte, a kind, an index.
  static constexpr uint64_t operation_tag = 0xFE;
  static constexpr uint64_t internal_tag = 0xFD;
  // A removal that found the table full: the cancel's user_data is the removed source's token (tag 0,
  // so its 56 bits fit under this tag), and the kernel's answer says whom to ask again.
  static constexpr uint64_t named_removal_tag = 0xFC;
  enum class Internal : uint8_t { ignored = 0, removal = 1 };
  static uint64_t internal_data(Internal kind, uint32_t index) {
    return (internal_tag << Token::tag_shift) | (uint64_t{static_cast<uint8_t>(kind)} << 32) | index;
  }

  static uint64_t user_data_of(const Operation& op);
  Error open_ring(const BackendOptions& options, const UringFeatures& features);
  Error open_tables(uint32_t registration_capacity);
  Error open_buffer_ring(const ReceiveBufferOptions& options, const UringFeatures& features);
  Error open_file_table(uint32_t capacity, bool emulate_kernel_5_10);
  Error open_registered_buffers(std::span<const iovec> buffers);
  int registered_buffer_of(const Operation& op) const;
  void close_ring();
  Error bind_driver_thread();
  bool on_driver_thread() const {
    return bound_.load(std::memory_order_acquire) && driver_thread_ == std::this_thread::get_id();
  }
  void prepare(io_uring_sqe* sqe, Operation& op);
  Error resubmit(Operation& op);
  void recycle_buffer(uint16_t id);
  void complete_multishot(Operation& op, const io_uring_cqe& cqe);
  void lease_buffer(Operation& op, const io_uring_cqe& cqe);

  // The submission queue, driver thread only.
  io_uring_sqe* next_sqe();
  unsigned publish_submissions();
  Error flush_submissions();
  Error arm_poll(int fd, Token token, Interest interest);
  Error submit_removal(uint32_t index);
  Error enter(uint32_t min_complete, int timeout_ms);
  bool must_enter_to_reap() const;
  io_uring_cqe* peek_completion();
  Reaped reap(std::span<Event> events);
  Reaped busy_poll(std::span<Event> events, uint64_t spin_ns);
  void complete(const io_uring_cqe& cqe);

  // The request queue and the removal table (uring_requests.cc).
  Error queue_request(const Request& request);
  bool cancel_queued_add(uint64_t token_bits);
  void apply_requests();
  void start_removal(uint64_t token_bits);
  void submit_named_removal(uint64_t token_bits);
  void reap_named_removal(const io_uring_cqe& cqe);
  void submit_removal_retries();
  int32_t find_removal(uint64_t token_bits) const;
  bool withdraw_unpublished_poll(uint64_t token_bits);
  void free_removal(uint32_t index);
  bool reap_removal(const io_uring_cqe& cqe);
  bool poll_ended_while_removed(const io_uring_cqe& cqe);

  io_uring ring_{};
  bool open_ = false;
  bool multishot_poll_ = false;
  bool wait_timeout_ = false;
  bool cancel_any_ = false;
  bool ring_disabled_ = false;     // IORING_SETUP_R_DISABLED: enabled by the first wait()
  bool register_ring_fd_ = false;  // register it at the first wait(): the registration is per thread
  bool ring_fd_registered_ = false;
  UringTaskWork task_work_ = UringTaskWork::signal;
  uint32_t busy_poll_budget_us_ = 0;
  OperationLedger* ledger_ = nullptr;
  Waker wake_driver_{};
  Error deferred_error_{};             // an enter failure seen after events were reaped: next wait's
  __kernel_timespec wait_timespec_{};  // read by the kernel during the enter that submits the timeout

  // The driver thread: set once, by the first wait(), under requests_lock_.
  std::atomic<bool> bound_{false};
  std::thread::id driver_thread_{};

  // Requests from other threads (a ring buffer) and removals awaiting the kernel's word (a table), both
  // mmap'd at open and sized from the registration capacity (docs/io_uring.md).
  std::mutex requests_lock_;  // guards the request queue
  Request* requests_ = nullptr;
  uint32_t request_capacity_ = 0;  // entries in the ring buffer; adds stop at add_request_limit_
  uint32_t add_request_limit_ = 0;
  uint32_t request_head_ = 0;
  uint32_t request_count_ = 0;
  Removal* removals_ = nullptr;  // driver thread only
  uint32_t removal_capacity_ = 0;
  // Polls armed on the driver thread since the SQ was last published (publish_submissions), whose SQEs
  // are still ours to rewrite (withdraw_unpublished_poll): one per registration and the wake's at most.
  struct UnpublishedPoll {
    uint64_t token_bits;
    io_uring_sqe* sqe;
  };
  UnpublishedPoll* unpublished_polls_ = nullptr;  // in the tables' mapping, after the removals
  uint32_t unpublished_poll_capacity_ = 0;
  uint32_t unpublished_poll_count_ = 0;
  uint32_t removal_count_ = 0;
  uint32_t removal_retry_count_ = 0;
  uint32_t named_removal_count_ = 0;        // named cancels sent and not answered yet (they need no entry)
  bool named_removal_asked_again_ = false;  // one answered EALREADY and left again: wait() reaps once more
  size_t table_bytes_ = 0;

  // Provided buffers for multishot receives (mmap'd at init; see docs/io_uring.md for their size).
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::byte* buffers_ = nullptr;
  uint32_t buffer_count_ = 0;
  uint32_t buffer_size_ = 0;
  // Registered files: a free list of table slots, mmap'd at init (driver thread only).
  std::span<const iovec> registered_buffers_{};
  int32_t* next_free_file_ = nullptr;
  int32_t free_file_head_ = -1;
  uint32_t file_capacity_ = 0;
};

}  // namespace emio
