// SPDX-License-Identifier: MIT
#include "emio/runtime/read_view.h"

#include <utility>

#include "emio/runtime/stream.h"

namespace emio {

bool ReadViewOp::poll_native(PollContext& context) {
  if (!native_->held_by(native_claim_)) return finish(Error::stale_token);
  return native_->poll_read_view(context.waker, output_);
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

void ReadViewOp::release_to_pool(void* pool, std::byte* buffer) { static_cast<BufferPool*>(pool)->give_back(buffer); }

}  // namespace emio
