// SPDX-License-Identifier: MIT
// The io_uring backend's hand-over from other threads to the driver thread (a fixed queue of add and
// remove requests), and its table of removals the kernel has not confirmed yet. See uring_backend.h.
#include <cassert>
#include <cerrno>

#include "emio/driver/uring_backend.h"
#include "emio/port/log.h"

namespace emio {

uint32_t UringBackend::queued_requests() {
  std::lock_guard<std::mutex> guard(requests_lock_);
  return request_count_;
}

Error UringBackend::queue_request(const Request& request) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard(requests_lock_);
    // Adds stop at the limit so that removals always find room (open_tables); a caller that sees EAGAIN
    // registers again once the driver has turned.
    if (request.is_add && request_count_ >= add_request_limit_) return Error::from_errno(EAGAIN);
    assert(request_count_ < request_capacity_ && "removals are bounded by the registrations applied");
    if (request_count_ == request_capacity_) {
      log_message(LogLevel::error, "io_uring request queue full: a poll removal is lost");
      return Error::from_errno(EAGAIN);
    }
    requests_[(request_head_ + request_count_) % request_capacity_] = request;
    request_count_ += 1;
    // Before the first wait() nobody sleeps in one, and the first wait() applies the queue.
    wake = bound_.load(std::memory_order_relaxed);
  }
  if (wake) wake_driver_.wake();
  return Error{};
}

bool UringBackend::cancel_queued_add(uint64_t token_bits) {
  std::lock_guard<std::mutex> guard(requests_lock_);
  // A scan, newest first: removals are rare next to events, and the queue is short between turns.
  for (uint32_t back = request_count_; back > 0; --back) {
    const uint32_t position = (request_head_ + back - 1) % request_capacity_;
    if (!requests_[position].is_add || requests_[position].token_bits != token_bits) continue;
    for (uint32_t next = back; next < request_count_; ++next) {
      requests_[(request_head_ + next - 1) % request_capacity_] = requests_[(request_head_ + next) % request_capacity_];
    }
    request_count_ -= 1;
    return true;
  }
  return false;
}

void UringBackend::apply_requests() {
  // One at a time, the lock released around each submission: applying may enter the kernel (a full SQ),
  // and other threads' adds should not wait for that. Only this thread takes requests out, so a removal
  // queued meanwhile still follows its add.
  for (;;) {
    Request request;
    {
      std::lock_guard<std::mutex> guard(requests_lock_);
      if (request_count_ == 0) return;
      request = requests_[request_head_];
      request_head_ = (request_head_ + 1) % request_capacity_;
      request_count_ -= 1;
    }
    if (!request.is_add) {
      start_removal(request.token_bits);
      continue;
    }
    Interest interest{};
    if ((request.interest_bits & Interest::readable.bits()) != 0) interest = interest | Interest::readable;
    if ((request.interest_bits & Interest::writable.bits()) != 0) interest = interest | Interest::writable;
    if ((request.interest_bits & Interest::priority.bits()) != 0) interest = interest | Interest::priority;
    if (arm_poll(request.fd, Token::from_bits(request.token_bits), interest).failed()) {
      log_message(LogLevel::error, "io_uring: no submission entry for a queued poll: its source hears nothing");
    }
  }
}

void UringBackend::start_removal(uint64_t token_bits) {
  int32_t chosen = -1;
  for (uint32_t index = 0; index < removal_capacity_ && chosen < 0; ++index) {
    if (!removals_[index].used) chosen = static_cast<int32_t>(index);
  }
  // A confirmed removal only waits for its poll's -ECANCELED, which the driver then drops as a stale
  // event: reuse one of those.
  for (uint32_t index = 0; index < removal_capacity_ && chosen < 0; ++index) {
    if (removals_[index].confirmed) chosen = static_cast<int32_t>(index);
  }
  if (chosen < 0) {
    // Full: no bound holds on the driver thread, where one slot may be added and removed any number of
    // times between two turns, each removal's answer reaped only at the next (a daemon accepting and
    // dropping connections within one turn's callbacks; found by the driver fuzz run). The cancel then
    // carries the token itself, and its answer is all the state a retry needs: no entry, no heap.
    submit_named_removal(token_bits);
    return;
  }
  const auto index = static_cast<uint32_t>(chosen);
  if (!removals_[index].used) removal_count_ += 1;
  removals_[index] = Removal{token_bits, true, false, false, false, false};
  (void)submit_removal(index);
}

void UringBackend::submit_named_removal(uint64_t token_bits) {
  assert(Token::from_bits(token_bits).tag() == 0 && "only sources are removed: their token fits under the tag");
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    // next_sqe failed to flush: the kernel takes no submissions at all (arm_poll says the same).
    log_message(LogLevel::error, "io_uring: no submission entry for a poll removal: its file may stay open");
    return;
  }
  io_uring_prep_cancel64(sqe, token_bits, 0);
  io_uring_sqe_set_data64(sqe, (named_removal_tag << Token::tag_shift) | token_bits);
  named_removal_count_ += 1;
}

void UringBackend::reap_named_removal(const io_uring_cqe& cqe) {
  assert(named_removal_count_ > 0);
  named_removal_count_ -= 1;
  const uint64_t token_bits = cqe.user_data & ((uint64_t{1} << Token::tag_shift) - 1);
  // 0: cancelled; the poll's -ECANCELED reaches the driver, which drops it as stale (no entry to match
  // it here). ENOENT: the poll had ended. EALREADY: it was being woken, ask again (a free entry now, if
  // the table has one).
  if (cqe.res == -EALREADY) {
    named_removal_asked_again_ = true;
    start_removal(token_bits);
  } else if (cqe.res != 0 && cqe.res != -ENOENT) {
    log_message(LogLevel::error, "io_uring poll removal failed (%s): its file may stay open",
                Error::from_errno(-cqe.res).name());
  }
}

Error UringBackend::submit_removal(uint32_t index) {
  Removal& removal = removals_[index];
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    removal.submit_again = true;  // the next wait asks again
    removal_retry_count_ += 1;
    return Error::from_errno(EBUSY);
  }
  // ASYNC_CANCEL by user_data rather than POLL_REMOVE: current kernels (io_poll_cancel_req) mark a poll
  // that is being woken as cancelled, where POLL_REMOVE's disarm refuses with EALREADY. Every answer is
  // checked anyway (reap_removal).
  io_uring_prep_cancel64(sqe, removal.token_bits, 0);
  io_uring_sqe_set_data64(sqe, internal_data(Internal::removal, index));
  removal.in_kernel = true;
  return Error{};
}

void UringBackend::submit_removal_retries() {
  for (uint32_t index = 0; index < removal_capacity_ && removal_retry_count_ > 0; ++index) {
    Removal& removal = removals_[index];
    if (!removal.used || !removal.submit_again) continue;
    removal.submit_again = false;
    removal_retry_count_ -= 1;
    if (submit_removal(index).failed()) return;  // no room now: the next wait
  }
}

int32_t UringBackend::find_removal(uint64_t token_bits) const {
  for (uint32_t index = 0; index < removal_capacity_; ++index) {
    if (removals_[index].used && removals_[index].token_bits == token_bits) return static_cast<int32_t>(index);
  }
  return -1;
}

void UringBackend::free_removal(uint32_t index) {
  Removal& removal = removals_[index];
  assert(removal.used);
  if (removal.submit_again) removal_retry_count_ -= 1;
  removal = Removal{};
  removal_count_ -= 1;
}

bool UringBackend::reap_removal(const io_uring_cqe& cqe) {
  const auto kind = static_cast<Internal>((cqe.user_data >> 32) & 0xFF);
  if (kind != Internal::removal) return false;
  const auto index = static_cast<uint32_t>(cqe.user_data & 0xFFFFFFFFu);
  assert(index < removal_capacity_);
  Removal& removal = removals_[index];
  if (!removal.used || !removal.in_kernel) return true;  // reused after its poll ended (table full)
  removal.in_kernel = false;
  switch (cqe.res) {
    case 0:
      // Found and cancelled: the poll's own last CQE (-ECANCELED) follows, or came first.
      removal.confirmed = true;
      if (removal.poll_ended) free_removal(index);
      return true;
    case -ENOENT:
      // Not armed any more: the poll had ended by itself, and its last CQE was posted before this one.
      free_removal(index);
      return true;
    case -EALREADY:
      // The poll was being woken: its wake-up work runs, then we ask again (until then it holds the file).
      removal.submit_again = true;
      removal_retry_count_ += 1;
      return true;
    default:
      log_message(LogLevel::error, "io_uring poll removal failed (%s): its file may stay open",
                  Error::from_errno(-cqe.res).name());
      free_removal(index);
      return true;
  }
}

bool UringBackend::poll_ended_while_removed(const io_uring_cqe& cqe) {
  const int32_t found = find_removal(cqe.user_data);
  if (found < 0) return false;
  const auto index = static_cast<uint32_t>(found);
  Removal& removal = removals_[index];
  removal.poll_ended = true;
  // The cancel's answer is still to come (ENOENT or 0) unless it came already or none is in the kernel.
  if (removal.confirmed || !removal.in_kernel) free_removal(index);
  return true;
}

}  // namespace emio
