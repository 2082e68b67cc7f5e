#include "emio/driver/scheduled_io.h"

#include <cassert>
#include <utility>

namespace emio {
namespace {

constexpr uint64_t readiness_mask = (uint64_t{1} << Ready::bit_count) - 1;

unsigned tick_shift(Direction direction) {
  return direction == Direction::read ? ScheduledIo::read_tick_shift : ScheduledIo::write_tick_shift;
}

uint16_t tick_of(uint64_t state, Direction direction) {
  return static_cast<uint16_t>((state >> tick_shift(direction)) & ScheduledIo::tick_mask);
}

uint64_t bump_tick(uint64_t state, Direction direction) {
  const unsigned shift = tick_shift(direction);
  const uint64_t next = ((state >> shift) + 1) & ScheduledIo::tick_mask;
  return (state & ~(ScheduledIo::tick_mask << shift)) | (next << shift);
}

Ready mask_of(Direction direction) {
  return direction == Direction::read ? ScheduledIo::read_mask : ScheduledIo::write_mask;
}

ReadyEvent event_from(uint64_t state, Direction direction) {
  ReadyEvent event;
  event.ready = Ready::from_bits(static_cast<unsigned>(state & readiness_mask)) & mask_of(direction);
  event.tick = tick_of(state, direction);
  event.direction = direction;
  event.shut_down = (state & ScheduledIo::shut_down_bit) != 0;
  return event;
}

}  // namespace

void ScheduledIo::lock_wakers() {
  while (waker_lock_.test_and_set(std::memory_order_acquire)) {
    // Spin: the holder runs a handful of instructions and never blocks.
  }
}

void ScheduledIo::reset(uint32_t generation, int fd, Interest interest) {
  lock_wakers();
  reader_ = Waker{};
  writer_ = Waker{};
  unlock_wakers();
  fd_ = fd;
  interest_ = interest;
  state_.store(uint64_t{generation} << generation_shift, std::memory_order_release);
}

bool ScheduledIo::set_readiness(uint32_t generation, Ready ready) {
  uint64_t current = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(current >> generation_shift) != generation) return false;
    uint64_t next = current | ready.bits();
    if (ready.intersects(read_mask)) next = bump_tick(next, Direction::read);
    if (ready.intersects(write_mask)) next = bump_tick(next, Direction::write);
    if (state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return true;
    }
  }
}

void ScheduledIo::wake(Ready ready) {
  Waker reader;
  Waker writer;
  lock_wakers();
  if (ready.intersects(read_mask)) std::swap(reader, reader_);
  if (ready.intersects(write_mask)) std::swap(writer, writer_);
  unlock_wakers();
  // Outside the lock: a waker may poll this very source again.
  reader.wake();
  writer.wake();
}

void ScheduledIo::shutdown() {
  state_.fetch_or(shut_down_bit, std::memory_order_acq_rel);
  wake(Ready::all);
}

ReadyEvent ScheduledIo::readiness(Direction direction) const {
  return event_from(state_.load(std::memory_order_acquire), direction);
}

ReadyEvent ScheduledIo::poll_ready(Direction direction, const Waker& waker) {
  const ReadyEvent before = readiness(direction);
  if (before.is_ready()) return before;
  lock_wakers();
  waker_for(direction) = waker;
  unlock_wakers();
  return readiness(direction);
}

void ScheduledIo::clear_readiness(const ReadyEvent& event) {
  const uint64_t clearable = (event.ready.without(Ready::final_states)).bits();
  uint64_t current = state_.load(std::memory_order_acquire);
  for (;;) {
    if (tick_of(current, event.direction) != event.tick) return;  // a newer event: keep its readiness
    const uint64_t next = current & ~clearable;
    if (next == current) return;
    if (state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire)) return;
  }
}

void ScheduledIo::clear_waker(Direction direction) {
  lock_wakers();
  waker_for(direction) = Waker{};
  unlock_wakers();
}

}  // namespace emio
