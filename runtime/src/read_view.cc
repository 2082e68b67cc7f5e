// SPDX-License-Identifier: MIT
#include "emio/runtime/read_view.h"

#include <cerrno>
#include <utility>

#include "emio/runtime/stream.h"

namespace emio {

bool ReadViewOp::poll(PollContext& context) {
  if (pool_ == nullptr) {  // the first poll chooses the route
    pool_ = &context.executor.read_view_buffers();
    native_ = stream_->native_record(context.executor);
    if (native_ != nullptr) native_claim_ = native_->token();
  }
  if (native_ == nullptr) return poll_readiness(context);
  if (!native_->held_by(native_claim_)) return finish(Error::stale_token);
  return native_->poll_read_view(context.waker, output_);
}

// StreamTransferOp's readiness rounds, with the buffer taken between the gate and the recv.
bool ReadViewOp::poll_readiness(PollContext& context) {
  if (pool_->count() == 0) return finish(Error::from_errno(ENOBUFS));
  PollFd& source = stream_->source();
  parked_ = {};
  for (int blocked = 0; blocked < io_attempt_rounds;) {
    uint64_t seen = 0;
    const IoGate gate = readiness_gate<Direction::read>(source.registration(), context.waker, seen);
    if (gate == IoGate::wait) {
      leave_pool();  // a stream waiting for bytes holds no buffer, not even one handed over meanwhile
      parked_ = source.registration();
      return false;
    }
    if (gate != IoGate::go) return finish(gate_error(gate));
    if (buffer_ == nullptr) buffer_ = pool_->take_or_wait(waiter_, context.waker);
    if (buffer_ == nullptr) return false;  // the pool hands one over and calls the waker
    Result<size_t> done = detail::receive(source, stream_->transfer(), seen, std::span(buffer_, pool_->buffer_bytes()));
    if (is_would_block(done)) {
      blocked += 1;
      continue;
    }
    if (!done.ok()) return finish(done.error());
    if (done.value() == 0) return finish(ReceivedBytes{});
    const std::span<const std::byte> bytes(buffer_, done.value());
    output_.emplace(ReceivedBytes(bytes, release_to_pool, pool_, std::exchange(buffer_, nullptr)));
    return true;
  }
  leave_pool();
  context.waker.wake();
  return false;
}

void ReadViewOp::cancel() {
  if (pool_ == nullptr) return;  // never polled: nothing taken, nothing parked
  if (native_ != nullptr) {
    if (native_->held_by(native_claim_)) native_->forget_reader();
    return;
  }
  if (parked_.io != nullptr && is_live(parked_)) parked_.io->clear_waker(Direction::read);
  parked_ = {};
  leave_pool();
}

void ReadViewOp::leave_pool() {
  if (waiter_.waiting() || waiter_.buffer != nullptr) pool_->stop_waiting(waiter_);
  if (buffer_ != nullptr) pool_->give_back(std::exchange(buffer_, nullptr));
}

void ReadViewOp::release_to_pool(void* pool, std::byte* buffer) { static_cast<BufferPool*>(pool)->give_back(buffer); }

}  // namespace emio
