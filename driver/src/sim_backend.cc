// SPDX-License-Identifier: MIT
// The simulation backend's schedule over a real epoll instance (sim_backend.h). Everything random comes
// from the backend's splitmix64 stream, drawn under its lock in the order the driver calls it, so a
// single-threaded run replays exactly from its seed.
#include "emio/driver/sim_backend.h"

#include <cassert>
#include <cerrno>
#include <new>
#include <utility>

#include "sim_registry.h"

namespace emio {
namespace {

constexpr uint32_t per_mille = 1000;
constexpr uint32_t directions = EPOLLIN | EPOLLOUT;
// What a half of a split event keeps besides its direction: the closed and error states say the truth
// about both directions (EpollBackend::ready_of), so each half reports them.
constexpr uint32_t both_halves = EPOLLHUP | EPOLLERR;

epoll_event event_for(uint64_t token_bits, uint32_t flags) {
  epoll_event event{};
  event.events = flags;
  event.data.u64 = token_bits;
  return event;
}

uint32_t flag_of(SimTransfer transfer) { return transfer == SimTransfer::read ? EPOLLIN : EPOLLOUT; }

Interest interest_of(SimTransfer transfer) {
  return transfer == SimTransfer::read ? Interest::readable : Interest::writable;
}

}  // namespace

Error SimBackend::open(const BackendOptions& options) {
  if (Error error = kernel_.open(options); error.failed()) return error;
  capacity_ = options.registration_capacity;
  // A kernel event may become two; follow-ups of cut transfers need one entry per source beyond that.
  pending_capacity_ = 3 * (capacity_ + 1) + 2;
  pending_ = new (std::nothrow) Pending[pending_capacity_];
  watched_ = new (std::nothrow) Watched[capacity_ == 0 ? 1 : capacity_]{};
  sim_registry::count_kernel_allocations(2);
  if (pending_ == nullptr || watched_ == nullptr) {
    close();
    return Error::no_storage;
  }
  schedule_ = sim_registry::schedule();
  stream_ = sim_registry::stream_for_next_backend();
  wake_driver_ = options.wake_driver;
  return sim_registry::enter(this);
}

void SimBackend::close() {
  sim_registry::leave(this);
  kernel_.close();
  delete[] pending_;
  pending_ = nullptr;
  delete[] watched_;
  watched_ = nullptr;
  pending_count_ = 0;
  capacity_ = 0;
  wake_ = Watched{};
  removed_next_ = 0;
  removed_count_ = 0;
}

Error SimBackend::add(int fd, Token token, Interest interest) {
  if (Error error = kernel_.add(fd, token, interest); error.failed()) return error;
  std::lock_guard<std::mutex> guard(lock_);
  // epoll took the number, so an older registration holding it had its file closed: it forgets the fd.
  if (Watched* older = watched_fd(fd); older != nullptr) older->fd = -1;
  const Watched entry{true, token.bits(), fd, interest};
  if (token.tag() != 0) {
    wake_ = entry;
  } else {
    assert(token.index() < capacity_);
    watched_[token.index()] = entry;
  }
  return Error{};
}

Error SimBackend::remove(int fd, Token token) {
  const Error removed = kernel_.remove(fd, token);
  std::lock_guard<std::mutex> guard(lock_);
  if (token.tag() == 0 && is_live(token.bits())) {
    watched_[token.index()] = Watched{};
    removed_[removed_next_] = token.bits();
    removed_next_ = (removed_next_ + 1) % removed_ring_size;
    if (removed_count_ < removed_ring_size) removed_count_ += 1;
  }
  return removed;
}

Result<uint32_t> SimBackend::wait(std::span<Event> events, int timeout_ms) {
  uint32_t fetch = 0;
  {
    std::lock_guard<std::mutex> guard(lock_);
    if (pending_count_ != 0) timeout_ms = 0;
    const uint32_t free_entries = pending_capacity_ - pending_count_;
    const uint32_t reserved = reserved_for_follow_ups();
    // Each kernel event may become two entries.
    const uint32_t room = free_entries > reserved ? (free_entries - reserved) / 2 : 0;
    fetch = room < events.size() ? room : static_cast<uint32_t>(events.size());
    kernel_waiting_ = timeout_ms != 0;
  }
  Result<uint32_t> polled = fetch == 0 ? Result<uint32_t>(0u) : kernel_.wait(events.first(fetch), timeout_ms);
  std::lock_guard<std::mutex> guard(lock_);
  kernel_waiting_ = false;
  if (!polled.ok()) return polled.error();  // EINTR as is: the pending events wait for the next call
  sim_registry::count(sim_registry::Counter::waits);
  take_kernel_events(events, polled.value());
  add_spurious_and_stale();
  return deliver(events);
}

void SimBackend::take_kernel_events(std::span<Event> scratch, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    const epoll_event event = scratch[i];
    if ((event.events & directions) != directions) {
      queue(event, draw_hold_waits());
      continue;
    }
    // Two events for one edge, as kqueue reports it: the readiness word merges them.
    sim_registry::count(sim_registry::Counter::split);
    queue(event_for(event.data.u64, event.events & ~uint32_t{EPOLLOUT}), draw_hold_waits());
    queue(event_for(event.data.u64, EPOLLOUT | (event.events & both_halves)), draw_hold_waits());
  }
}

void SimBackend::queue(epoll_event event, uint32_t hold_waits) {
  assert(pending_count_ < pending_capacity_);
  pending_[pending_count_++] = Pending{event, hold_waits, hold_waits != 0};
}

void SimBackend::add_spurious_and_stale() {
  const bool has_room = pending_capacity_ - pending_count_ > reserved_for_follow_ups() + 2;
  if (has_room && capacity_ != 0 && draw() % per_mille < schedule_.spurious_per_mille) {
    const uint32_t start = static_cast<uint32_t>(draw() % capacity_);
    for (uint32_t step = 0; step < capacity_; ++step) {
      const Watched& source = watched_[(start + step) % capacity_];
      if (!source.live) continue;
      // Within the interest: a kernel never reports a direction nobody asked for.
      const bool readable = source.interest.contains(Interest::readable);
      const bool writable = source.interest.contains(Interest::writable);
      if (!readable && !writable) break;
      const bool pick_read = readable && (!writable || draw() % 2 == 0);
      queue(event_for(source.token_bits, pick_read ? EPOLLIN : EPOLLOUT), 0);
      sim_registry::count(sim_registry::Counter::spurious);
      break;
    }
  }
  if (has_room && removed_count_ != 0 && draw() % per_mille < schedule_.stale_per_mille) {
    queue(event_for(removed_[draw() % removed_count_], directions), 0);
  }
}

uint32_t SimBackend::deliver(std::span<Event> events) {
  // The due events in the order they came (so none waits longer than the buffer makes it), then
  // shuffled: the order the driver sees them in is the stream's. The rest keep their order.
  uint32_t count = 0;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < pending_count_; ++i) {
    Pending entry = pending_[i];
    if (entry.hold_waits == 0 && count < events.size()) {
      events[count++] = entry.event;
      sim_registry::count(sim_registry::Counter::delivered);
      if (entry.late) sim_registry::count(sim_registry::Counter::held);
      if (!is_live(entry.event.data.u64)) sim_registry::count(sim_registry::Counter::stale_delivered);
      continue;
    }
    if (entry.hold_waits != 0) entry.hold_waits -= 1;
    pending_[kept++] = entry;
  }
  pending_count_ = kept;
  for (uint32_t i = count; i > 1; --i) std::swap(events[i - 1], events[draw() % i]);
  return count;
}

bool SimBackend::is_live(uint64_t token_bits) const {
  const Token token = Token::from_bits(token_bits);
  const Watched* entry = token.tag() != 0 ? &wake_ : token.index() < capacity_ ? &watched_[token.index()] : nullptr;
  return entry != nullptr && entry->live && entry->token_bits == token_bits;
}

SimBackend::Watched* SimBackend::watched_fd(int fd) {
  if (fd < 0) return nullptr;
  for (uint32_t i = 0; i < capacity_; ++i) {
    if (watched_[i].live && watched_[i].fd == fd) return &watched_[i];
  }
  return nullptr;
}

uint64_t SimBackend::draw() { return sim_next(stream_); }

uint32_t SimBackend::draw_hold_waits() { return static_cast<uint32_t>(draw() % (schedule_.max_hold_waits + 1)); }

size_t SimBackend::cut_length(int fd, SimTransfer transfer, size_t length) {
  if (!cuts_transfers() || length < 2) return length;
  std::lock_guard<std::mutex> guard(lock_);
  const Watched* source = watched_fd(fd);
  if (source == nullptr || !source->interest.contains(interest_of(transfer))) return length;
  if (draw() % per_mille >= schedule_.cut_per_mille) return length;
  return 1 + draw() % (length - 1);
}

bool SimBackend::queue_follow_up(int fd, SimTransfer transfer) {
  std::lock_guard<std::mutex> guard(lock_);
  const Watched* source = watched_fd(fd);
  if (source == nullptr) return false;
  sim_registry::count(sim_registry::Counter::cuts);
  // One entry per source is enough: an event already queued for it carries the direction too.
  for (uint32_t i = 0; i < pending_count_; ++i) {
    if (pending_[i].event.data.u64 == source->token_bits) {
      pending_[i].event.events |= flag_of(transfer);
      return kernel_waiting_;
    }
  }
  queue(event_for(source->token_bits, flag_of(transfer)), 0);
  return kernel_waiting_;
}

}  // namespace emio
