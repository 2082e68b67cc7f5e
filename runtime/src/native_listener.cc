// SPDX-License-Identifier: MIT
#include "emio/runtime/native_listener.h"

#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <new>
#include <utility>

namespace emio {

// --- NativeListener ---

NativeListener::~NativeListener() {
  while (count_ > 0) (void)pop();
}

bool NativeListener::poll_accept(Waker waker, std::optional<Result<Fd>>& output) {
  if (count_ > 0) {
    output.emplace(take_oldest());
    return true;
  }
  if (const Error failed = take_ending_error(); failed.failed()) {
    output.emplace(failed);
    return true;
  }
  waiter_ = waker;
  // An accept in flight wakes the waiter with its connection; a cancel still in flight names the accept
  // by its record, as a new one would be named: armed once it is done (on_cancelled wakes the waiter).
  if (!idle()) return false;
  if (const Error refused = arm(); refused.failed()) {
    waiter_ = {};
    output.emplace(refused);  // shut_down once the executor is going away
    return true;
  }
  return false;
}

// The kernel checks the fd limit the accept was armed under (io_accept_prep keeps rlimit(RLIMIT_NOFILE)
// for the request's life, and an accept may wait armed for long): after the limit was lowered (prlimit,
// setrlimit) it accepts past it, where accept4 would fail with EMFILE and leave the connection in the
// backlog (seen: emio-echo's out_of_fds_backs_off_and_recovers.uring logged no EMFILE). So the oldest
// connection moves under the limit as it is now, or stays queued while the await reports EMFILE, as
// accept4 would; the accept in flight is cancelled meanwhile, and the await that takes the connection
// arms it again.
Result<Fd> NativeListener::take_oldest() {
  const Result<int> fitted = fit_under_fd_limit(queue_[head_]);
  if (!fitted.ok()) {
    pool_->cancel(*this);
    return fitted.error();
  }
  queue_[head_] = fitted.value();
  Fd oldest = pop();
  // Room again after a full queue (or a stop for the fd limit): the next connections come through the ring.
  if (idle()) (void)arm();
  return oldest;
}

// What the last accept failed with, as accept4 would say it now; the next await arms it again. An EMFILE
// under the limit it was armed under while a number is free under the limit as it is now (raised since,
// or a connection closed since) is no error any more: accept4 would succeed, so this await arms at once.
Error NativeListener::take_ending_error() {
  const Error failed = Error::from_errno(-std::exchange(error_, 0));
  if (failed == Error::from_errno(EMFILE) && check_fd_free_under_limit(source_.fd).ok()) return Error{};
  return failed;
}

// Only with a free slot, which the accept owns until it completes: the queue never overflows.
Error NativeListener::arm() {
  assert(count_ < queue_capacity && "an accept is armed only with a slot for its connection");
  prepare_accept(accept_, source_, nullptr, 0, {on_accepted, this});  // the peer's address: getpeername
  return pool_->driver().submit_reserved(accept_);
}

void NativeListener::push(int fd) {
  if (!open_) {  // closed while the accept was in flight
    (void)::close(fd);
    return;
  }
  queue_[(head_ + count_) % queue_capacity] = fd;
  count_ += 1;
}

Fd NativeListener::pop() {
  Fd oldest(queue_[head_]);
  head_ = (head_ + 1) % queue_capacity;
  count_ -= 1;
  return oldest;
}

void NativeListener::on_accepted(void* record) {
  auto& listener = *static_cast<NativeListener*>(record);
  const int32_t result = listener.accept_.result;
  if (result >= 0) {
    listener.push(result);  // into the slot the accept owned
  } else if (result != -ECANCELED) {
    listener.error_ = result;  // EMFILE, ENFILE, ...: reported by the next await, which arms again
  }
  if (!listener.open_) return listener.pool_->free_if_done(listener);
  // Accepting ahead while the queue has room, unless a cancel (the fd limit) asked it to stop.
  if (result >= 0 && listener.count_ < queue_capacity && !listener.cancel_.in_flight()) (void)listener.arm();
  std::exchange(listener.waiter_, Waker{}).wake();
}

void NativeListener::on_cancelled(void* record) {
  auto& listener = *static_cast<NativeListener*>(record);
  if (!listener.open_) return listener.pool_->free_if_done(listener);
  std::exchange(listener.waiter_, Waker{}).wake();  // its poll arms the accept again
}

// --- NativeListenerPool ---

NativeListenerPool::~NativeListenerPool() = default;

Error NativeListenerPool::init(Driver& driver, uint32_t capacity) {
  driver_ = &driver;
  if (capacity == 0) return Error{};
  if (records_.init(capacity) != ArenaStatus::ok) return Error::no_storage;
  for (uint32_t i = 0; i < capacity; ++i) records_.at(i).pool_ = this;
  return Error{};
}

NativeListener* NativeListenerPool::acquire(int fd) {
  NativeListener* listener = NativeLease<NativeListener>::take_attached(records_, driver_, fd);
  if (listener != nullptr) listener->error_ = 0;
  return listener;
}

void NativeListenerPool::release(NativeListener& listener, Fd fd) {
  listener.fd_ = std::move(fd);
  listener.open_ = false;
  listener.waiter_ = {};
  while (listener.count_ > 0) listener.pop();  // accepted, never taken: closed, as close(2) resets the backlog's
  cancel(listener);
  free_if_done(listener);
}

void NativeListenerPool::cancel(NativeListener& listener) {
  if (!listener.accept_.in_flight() || listener.cancel_.in_flight()) return;
  prepare_cancel(listener.cancel_, listener.accept_, {NativeListener::on_cancelled, &listener});
  (void)driver_->submit_reserved(listener.cancel_);  // refused only after shutdown, which completes the accept
}

void NativeListenerPool::free_if_done(NativeListener& listener) {
  if (listener.open_ || !listener.idle()) return;
  (void)driver_->detach(listener.source_);
  listener.fd_.reset();  // only now: no submission of the record's names the fd any more
  [[maybe_unused]] const ArenaStatus released = records_.release(listener.token_);
  assert(released == ArenaStatus::ok && "a record frees once");
}

}  // namespace emio
