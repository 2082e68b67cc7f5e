// SPDX-License-Identifier: MIT
#include "contract_floor_loop.h"

#include <cerrno>

namespace emio_bench {

using emio::Error;

Error ContractFloorLoop::open(PingPong& game, emio::BackendChoice /*backend*/) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Error::last_os_error();
  epoll_.reset(fd);
  source_count_ = game.endpoint_count();
  for (uint32_t i = 0; i < source_count_; ++i) {
    Source& source = sources_[i];
    source.generation = 1;
    source.loop = this;
    source.endpoint = &game.endpoint(i);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.u64 = (uint64_t{source.generation} << 32) | i;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, source.endpoint->fd.get(), &event) < 0) {
      return Error::last_os_error();
    }
    // Nothing is readable yet: this parks the source's waiter.
    if (Error error = serve(game, source); error.failed()) return error;
  }
  return Error{};
}

void ContractFloorLoop::queue_source(void* context) {
  auto* source = static_cast<Source*>(context);
  source->loop->ready_[source->loop->ready_count_++] = source;
}

Error ContractFloorLoop::run(PingPong& game) {
  while (!game.finished()) {
    const int count = counted_epoll_wait(epoll_.get(), events_, game);
    if (count < 0) return Error::last_os_error();
    for (int i = 0; i < count; ++i) dispatch(events_[i]);
    for (uint32_t i = 0; i < ready_count_; ++i) {
      if (Error error = serve(game, *ready_[i]); error.failed()) return error;
    }
    ready_count_ = 0;
  }
  return Error{};
}

inline void ContractFloorLoop::dispatch(const epoll_event& event) {
  const auto index = static_cast<uint32_t>(event.data.u64);
  if (index >= source_count_ || sources_[index].generation != static_cast<uint32_t>(event.data.u64 >> 32)) {
    return;  // the slot's previous owner: dropped
  }
  Source& source = sources_[index];
  const uint64_t readiness = (event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 ? readable_bit : 0;
  uint64_t seen = source.word.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = (seen | readiness) + tick_one;
    if ((seen & waiter_bit) != 0) next = (next & ~waiter_bit) | running_bit;
  } while (!source.word.compare_exchange_weak(seen, next, std::memory_order_acq_rel, std::memory_order_relaxed));
  if ((seen & waiter_bit) == 0) return;
  source.waker.wake(source.waker.context);
  source.word.fetch_and(~running_bit, std::memory_order_release);
}

inline Error ContractFloorLoop::serve(PingPong& game, Source& source) {
  uint64_t seen = source.word.load(std::memory_order_acquire);
  for (;;) {
    if ((seen & readable_bit) != 0) {
      if (Error error = game.drain(*source.endpoint); error.failed()) return error;
    }
    // Drained to EAGAIN, or nothing was readable: clear what was seen and park, in one step. A newer
    // event bumped the tick meanwhile: the swap fails, and its readiness is served first.
    source.waker = Waker{&queue_source, &source};
    const uint64_t parked = (seen & ~readable_bit) | waiter_bit;
    if (source.word.compare_exchange_strong(seen, parked, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return Error{};
    }
  }
}

}  // namespace emio_bench
