// SPDX-License-Identifier: MIT
// The io_uring backend's completion operations: preparing each kind's submission, completing it, the
// registered files and buffers, and the shutdown that completes every operation. See uring_backend.h.
#include <sys/socket.h>
#include <time.h>

#include <cassert>
#include <cerrno>
#include <cstdint>

#include "emio/driver/uring_backend.h"
#include "emio/port/clock.h"
#include "emio/port/log.h"

namespace emio {
namespace {

constexpr uint64_t address_mask = (uint64_t{1} << Token::tag_shift) - 1;

}  // namespace

uint64_t UringBackend::user_data_of(const Operation& op) {
  const auto address = reinterpret_cast<uintptr_t>(&op);
  assert((address & ~address_mask) == 0);
  return (operation_tag << Token::tag_shift) | address;
}

// The registered region that holds all of `op`'s buffer, or -1. A scan: a driver registers a few large
// regions (a buffer pool), not one per operation.
int UringBackend::registered_buffer_of(const Operation& op) const {
  const auto* begin = static_cast<const std::byte*>(op.buffer);
  for (size_t index = 0; index < registered_buffers_.size(); ++index) {
    const auto* base = static_cast<const std::byte*>(registered_buffers_[index].iov_base);
    if (begin >= base && begin + op.length <= base + registered_buffers_[index].iov_len) {
      return static_cast<int>(index);
    }
  }
  return -1;
}

Result<int32_t> UringBackend::register_file(int fd) {
  if (free_file_head_ < 0) return Error::from_errno(ENFILE);
  const int32_t slot = free_file_head_;
  const int status = io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1);
  if (status < 0) return Error::from_errno(-status);
  free_file_head_ = next_free_file_[slot];
  return slot;
}

void UringBackend::unregister_file(int32_t slot) {
  // The table holds a reference to the file: until this update, a close() would not close it.
  int removed = -1;
  (void)io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &removed, 1);
  next_free_file_[slot] = free_file_head_;
  free_file_head_ = slot;
}

Error UringBackend::submit(Operation& op) {
  // A multishot target that the kernel ends at the same moment would otherwise be started again by
  // complete_multishot, after the cancel found nothing to cancel.
  if (op.kind == OpKind::cancel && op.target->in_flight()) op.target->cancel_requested = true;
  // The table's reference would keep the file open past the close: let it go first.
  if (op.kind == OpKind::close && op.source->fixed_file >= 0) {
    unregister_file(op.source->fixed_file);
    op.source->fixed_file = -1;
  }
  return resubmit(op);
}

Error UringBackend::resubmit(Operation& op) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return Error::from_errno(EBUSY);
  prepare(sqe, op);
  io_uring_sqe_set_data64(sqe, user_data_of(op));
  op.state = OpState::in_kernel;
  return Error{};
}

void UringBackend::prepare(io_uring_sqe* sqe, Operation& op) {
  const bool fixed = op.source != nullptr && op.source->fixed_file >= 0;
  const int fd = op.source == nullptr ? -1 : (fixed ? op.source->fixed_file : op.source->fd);
  switch (op.kind) {
    case OpKind::accept:
      io_uring_prep_accept(sqe, fd, op.address, op.address != nullptr ? &op.address_length : nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::accept_multishot:
      io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::connect:
      io_uring_prep_connect(sqe, fd, op.address, op.address_length);
      break;
    case OpKind::recv:
      io_uring_prep_recv(sqe, fd, op.buffer, op.length, 0);
      break;
    case OpKind::recv_multishot:
      // The kernel picks a buffer from group 0, the provided buffer ring, for each chunk it receives.
      io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
      sqe->buf_group = 0;
      break;
    case OpKind::recv_leased:
      // No buffer yet: the kernel takes one from group 0 when bytes arrive, not while the receive waits.
      io_uring_prep_recv(sqe, fd, nullptr, buffer_size_, 0);
      sqe->buf_group = 0;
      break;
    case OpKind::read_leased:
      io_uring_prep_read(sqe, fd, nullptr, buffer_size_, static_cast<uint64_t>(-1));
      sqe->buf_group = 0;
      break;
    case OpKind::send:
      io_uring_prep_send(sqe, fd, op.buffer, op.length, MSG_NOSIGNAL);
      break;
    // Offset -1: the file's current position, as read(2) and write(2) use (5.6 and later).
    case OpKind::read:
      if (const int index = registered_buffer_of(op); index >= 0) {
        io_uring_prep_read_fixed(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1), index);
      } else {
        io_uring_prep_read(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1));
      }
      break;
    case OpKind::write:
      if (const int index = registered_buffer_of(op); index >= 0) {
        io_uring_prep_write_fixed(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1), index);
      } else {
        io_uring_prep_write(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1));
      }
      break;
    case OpKind::close:
      // The plain fd: submit() emptied the file's table slot first. prepare_close always sets a source.
      assert(op.source != nullptr);
      io_uring_prep_close(sqe, op.source == nullptr ? -1 : op.source->fd);
      break;
    case OpKind::timeout:
      op.timer.timespec.tv_sec = static_cast<int64_t>(op.timeout_ns / 1000000000u);
      op.timer.timespec.tv_nsec = static_cast<long long>(op.timeout_ns % 1000000000u);
      io_uring_prep_timeout(sqe, &op.timer.timespec, 0, 0);
      break;
    case OpKind::cancel:
      io_uring_prep_cancel64(sqe, user_data_of(*op.target), 0);
      break;
  }
  // Set after the prep helpers, which clear the flags.
  if (fixed && op.kind != OpKind::close) sqe->flags |= IOSQE_FIXED_FILE;
  if (op.kind == OpKind::recv_multishot || is_leased(op.kind)) sqe->flags |= IOSQE_BUFFER_SELECT;
}

void UringBackend::cancel_operations() {
  if (ledger_ == nullptr || ledger_->count() == 0) return;
  // Shutdown belongs to the driver thread; before any turn, the thread that shuts down becomes it.
  if (!bound_.load(std::memory_order_acquire)) (void)bind_driver_thread();
  const bool ours = on_driver_thread();
  for (Operation* op = ledger_->first(); op != nullptr; op = op->next) op->cancel_requested = true;
  if (!ours) {
    log_message(LogLevel::error,
                "io_uring shutdown on another thread than the driver's: %u operations wait for "
                "the kernel uncancelled",
                ledger_->count());
  } else if (cancel_any_) {
    // One submission cancels every request (IORING_ASYNC_CANCEL_ANY, 5.19): a full SQ cannot stop it
    // half-way, and the readiness polls go too, which after shutdown nobody listens to.
    if (io_uring_sqe* sqe = next_sqe(); sqe != nullptr) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, internal_data(Internal::ignored, 0));
    }
  } else {
    // One cancel per operation; next_sqe() hands a full SQ over (and waits for SQPOLL to take it).
    for (Operation* op = ledger_->first(); op != nullptr; op = op->next) {
      io_uring_sqe* sqe = next_sqe();
      if (sqe == nullptr) break;  // the kernel refused to take the queue: said below, with the count
      io_uring_prep_cancel64(sqe, user_data_of(*op), 0);
      io_uring_sqe_set_data64(sqe, internal_data(Internal::ignored, 0));
    }
  }
  // Every operation completes, cancelled or not; readiness events reaped meanwhile no longer matter. The
  // deadline only guards against a kernel that never completes an uncancellable operation.
  const uint64_t give_up_ns = monotonic_now_ns() + shutdown_deadline_ns;
  Event discarded[16];
  while (ledger_->count() > 0 && monotonic_now_ns() < give_up_ns) {
    if (reap(discarded).any()) continue;
    if (ours) {
      (void)enter(1, 100);
    } else {
      // Completions that overflowed the ring reach it only through an enter; reap() does not enter (it
      // peeks the ring inline). From this thread the ring's plain fd: its registered index is the driver
      // thread's. A SINGLE_ISSUER ring refuses it (EEXIST), as it did liburing's peek before.
      if (must_enter_to_reap()) (void)io_uring_enter(ring_.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, nullptr);
      const timespec pause{0, 1000000};
      (void)::nanosleep(&pause, nullptr);
    }
  }
  if (ledger_->count() > 0) {
    log_message(LogLevel::error,
                "io_uring shutdown: %u operations still in flight after %u s; the kernel may still write into "
                "their records and buffers, which must stay allocated",
                ledger_->count(), static_cast<unsigned>(shutdown_deadline_ns / 1000000000u));
  }
}

void UringBackend::complete(const io_uring_cqe& cqe) {
  // The kernel hands back the record's own address, which user_data_of() put there.
  Operation& op = *reinterpret_cast<Operation*>(  // NOLINT(performance-no-int-to-ptr)
      static_cast<uintptr_t>(cqe.user_data & address_mask));
  if (op.kind == OpKind::accept_multishot || op.kind == OpKind::recv_multishot) return complete_multishot(op, cqe);
  int32_t result = cqe.res;
  if (op.kind == OpKind::timeout && result == -ETIME) result = 0;  // the time passed: that is success
  if (op.kind == OpKind::close) op.source->fd = -1;                // gone even on error (close(2))
  if (is_leased(op.kind)) lease_buffer(op, cqe);
  ledger_->finish(op, result);
}

void UringBackend::lease_buffer(Operation& op, const io_uring_cqe& cqe) {
  op.buffer = nullptr;
  if ((cqe.flags & IORING_CQE_F_BUFFER) == 0) return;
  const auto buffer_id = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  // Bytes go to the caller until release_buffer; a buffer taken for nothing goes back at once.
  if (cqe.res > 0) {
    op.buffer = buffers_ + size_t{buffer_id} * buffer_size_;
  } else {
    recycle_buffer(buffer_id);
  }
}

void UringBackend::release_buffer(Operation& op) {
  if (op.buffer == nullptr) return;
  const auto offset = static_cast<size_t>(static_cast<std::byte*>(op.buffer) - buffers_);
  assert(offset % buffer_size_ == 0 && offset / buffer_size_ < buffer_count_);
  recycle_buffer(static_cast<uint16_t>(offset / buffer_size_));
  op.buffer = nullptr;
}

void UringBackend::complete_multishot(Operation& op, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  const bool delivered = op.kind == OpKind::accept_multishot ? cqe.res >= 0 : cqe.res > 0;
  // The kernel took a buffer from the ring for this CQE, whatever its result (a zero-length or failed
  // receive may carry one on some kernels): it goes back, or the ring runs dry one buffer at a time.
  const bool took_buffer = op.kind == OpKind::recv_multishot && (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  const auto buffer_id = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if (delivered) {
    if (took_buffer) op.buffer = buffers_ + size_t{buffer_id} * buffer_size_;
    OperationLedger::deliver(op, cqe.res);
  }
  if (took_buffer) recycle_buffer(buffer_id);  // the bytes were the callback's only while it ran
  // A multishot operation also ends without an error: on CQ overflow, or early (liburing#805), with
  // ENOBUFS when every provided buffer was taken (they are back by now), or cancelled by the kernel
  // unasked (-ECANCELED without a cancel of ours). Carry on, unseen by the caller.
  const bool unasked_cancel = cqe.res == -ECANCELED && !op.cancel_requested;
  const bool ended_early = !more && (delivered || cqe.res == -ENOBUFS || unasked_cancel);
  if (ended_early && !op.cancel_requested && resubmit(op).ok()) return;
  if (more) return;
  if (ended_early) return ledger_->finish(op, op.cancel_requested || unasked_cancel ? -ECANCELED : -ENOBUFS);
  ledger_->finish(op, cqe.res);
}

}  // namespace emio
