#include "emio/driver/scheduled_io.h"

// The cold paths; the hot ones are inline in the header.
namespace emio {

void ScheduledIo::reset(uint32_t generation, int fd, Interest interest) {
  lock_wakers();
  reader_ = Waker{};
  writer_ = Waker{};
  unlock_wakers();
  fd_ = fd;
  interest_ = interest;
  state_.store(uint64_t{generation} << generation_shift, std::memory_order_release);
}

void ScheduledIo::shutdown() {
  state_.fetch_or(shut_down_bit, std::memory_order_acq_rel);
  wake(Ready::all);
}

void ScheduledIo::clear_waker(Direction direction) {
  lock_wakers();
  waker_for(direction) = Waker{};
  unlock_wakers();
}

}  // namespace emio
