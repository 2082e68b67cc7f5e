// The io_uring backend: readiness over POLL_ADD (multishot from 5.13, single-shot and re-armed on 5.10
// boards) and native completion operations. One of the backend files, same shape as the epoll one
// (see backend.h); with EMIO_BACKEND=uring the epoll backend is compiled in beside it, as its fallback.
//
// Threading: add() and remove() may run on any thread (Handle::add_source, deregister) while the driver
// thread waits, so the submission queue has its own lock; the completion queue belongs to the driver
// thread alone.
#pragma once

#include <liburing.h>
#include <sys/epoll.h>

#include <cstdint>
#include <mutex>
#include <span>

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
};

class UringBackend {
 public:
  // Readiness events look like epoll's: the poll mask io_uring returns uses the same bits.
  using Event = epoll_event;
  static constexpr const char* name = "uring";
  // Set in an Event when the poll behind it has ended (a single-shot poll fired, or a multishot one
  // stopped, e.g. on CQ overflow): the driver arms it again. epoll never reports this bit to us.
  static constexpr uint32_t poll_ended_flag = EPOLLONESHOT;

  UringBackend() = default;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;
  ~UringBackend();

  // Probes the kernel (once per process), then sets the ring up. ENOSYS, EPERM and EINVAL, or
  // Error::backend_unavailable, mean "io_uring cannot run here": the caller falls back to epoll.
  Error open(const BackendOptions& options);
  // Releases the ring and everything open() mapped; open() may run again.
  void close() { close_ring(); }
  // Arms a poll for `interest`. Refuses what epoll refuses, the same way (EBADF, EPERM for regular
  // files), so that both backends agree; duplicates are the driver's to refuse (refuses_duplicate_fds).
  Error add(int fd, Token token, Interest interest);
  // Removes the poll; the removal is submitted before this returns, so the ring drops its reference
  // to the file and a close() that follows really closes it. EBADF when `fd` was closed first, as epoll.
  Error remove(int fd, Token token);
  // Reaps readiness events into `events` and completes operations, waiting up to `timeout_ms`.
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms);

  static Token token_of(const Event& event) { return Token::from_bits(event.data.u64); }
  static Ready ready_of(const Event& event);
  static bool interest_ended(const Event& event) { return (event.events & poll_ended_flag) != 0; }
  // io_uring accepts several polls on one fd; epoll's EEXIST is left to the driver.
  static constexpr bool refuses_duplicate_fds() { return false; }
  const char* active_name() const { return name; }
  Error fallback_reason() const { return Error{}; }  // falling back is DynamicBackend's business

  // --- Completion operations (the driver thread only) ---
  void use_ledger(OperationLedger* ledger) { ledger_ = ledger; }
  // Queues the submission; it reaches the kernel with the next wait's io_uring_enter.
  Error submit(Operation& op);
  // Driver shutdown: cancels every operation in flight and reaps until each has completed.
  void cancel_operations();

  // Kernel-bypass mode: puts `fd` in the registered files and returns its slot (ENFILE: table full,
  // or no table configured).
  Result<int32_t> register_file(int fd);
  void unregister_file(int32_t slot);
  bool has_file_table() const { return file_capacity_ > 0; }

  static UringFeatures features();
  uint32_t completion_queue_entries() const { return ring_.cq.ring_entries; }
  bool sqpoll() const { return (ring_.flags & IORING_SETUP_SQPOLL) != 0; }

 private:
  struct Reaped {
    uint32_t events = 0;
    uint32_t completions = 0;
    bool any() const { return events + completions > 0; }
  };

  Error open_ring(const BackendOptions& options, const UringFeatures& features);
  Error open_buffer_ring(const ReceiveBufferOptions& options, const UringFeatures& features);
  Error open_file_table(uint32_t capacity);
  Error open_registered_buffers(std::span<const iovec> buffers);
  int registered_buffer_of(const Operation& op) const;
  void close_ring();
  void prepare(io_uring_sqe* sqe, Operation& op);
  Error resubmit(Operation& op);
  void recycle_buffer(uint16_t id);
  void complete_multishot(Operation& op, const io_uring_cqe& cqe);
  io_uring_sqe* next_sqe_locked();
  Error arm_poll(int fd, Token token, Interest interest);
  Error enter(uint32_t min_complete, int timeout_ms);
  bool must_enter_to_reap() const;
  bool submissions_pending();
  Reaped reap(std::span<Event> events);
  bool reap_one(const io_uring_cqe& cqe, Event* event);
  void complete(const io_uring_cqe& cqe);
  Reaped busy_poll(std::span<Event> events);

  io_uring ring_{};
  bool open_ = false;
  bool multishot_poll_ = false;
  bool wait_timeout_ = false;
  uint32_t busy_poll_budget_us_ = 0;
  OperationLedger* ledger_ = nullptr;
  __kernel_timespec wait_timespec_{};  // read by the kernel during the enter that submits the timeout
  std::mutex submit_lock_;             // guards the submission queue: every thread may add and remove

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
