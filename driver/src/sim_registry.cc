// SPDX-License-Identifier: MIT
#include "sim_registry.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>

namespace emio {
namespace {

constexpr uint64_t default_seed = 1;
constexpr uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;

uint64_t read_seed() {
  const char* text = std::getenv("EMIO_SIM_SEED");
  if (text == nullptr || *text == '\0') return default_seed;
  return std::strtoull(text, nullptr, 0);
}

struct Registry {
  std::mutex lock;  // taken before any backend's own lock, never after
  SimBackend* backends[sim_registry::max_backends] = {};
  SimSchedule schedule{};
  std::atomic<uint64_t> seed{read_seed()};
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> counters[static_cast<uint32_t>(sim_registry::Counter::count_)] = {};
  std::atomic<uint32_t> cutting_backends{0};  // the wrappers' fast path: no cut anywhere
  std::atomic<uint64_t> kernel_allocations{0};
};

// Built on first use in static storage and never destroyed: a Driver in static storage may close its
// backend after every other static object is gone, and the registry must still be there for it.
Registry& registry() {
  alignas(Registry) static unsigned char storage[sizeof(Registry)];
  static Registry* const instance = new (storage) Registry();
  return *instance;
}

// The wrappers call back into the process from inside the simulation (the driver's wake writes its
// eventfd): those calls pass through untouched.
thread_local bool inside_simulation = false;

// Only byte streams may be cut: a datagram cut short loses its tail, and an eventfd, timerfd or
// signalfd refuses a short buffer with EINVAL. No kernel does either to a caller.
bool is_byte_stream(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return false;
  if (S_ISFIFO(status.st_mode)) return true;
  if (!S_ISSOCK(status.st_mode)) return false;
  int type = 0;
  socklen_t length = sizeof type;
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_STREAM;
}

// Puts `to` in the entry that holds `from` (nullptr: a free one); false when none does.
bool replace_entry(SimBackend* from, SimBackend* to) {
  Registry& shared = registry();
  std::lock_guard<std::mutex> guard(shared.lock);
  for (SimBackend*& entry : shared.backends) {
    if (entry != from) continue;
    entry = to;
    if (to != nullptr && to->cuts_transfers()) shared.cutting_backends.fetch_add(1);
    if (from != nullptr && from->cuts_transfers()) shared.cutting_backends.fetch_sub(1);
    return true;
  }
  return false;
}

}  // namespace

namespace sim_registry {

Error enter(SimBackend* backend) { return replace_entry(nullptr, backend) ? Error{} : Error::from_errno(ENOMEM); }

void leave(SimBackend* backend) { (void)replace_entry(backend, nullptr); }

SimSchedule schedule() {
  Registry& shared = registry();
  std::lock_guard<std::mutex> guard(shared.lock);
  return shared.schedule;
}

uint64_t stream_for_next_backend() {
  Registry& shared = registry();
  return shared.seed.load() + golden_gamma * (shared.opened.fetch_add(1) + 1);
}

void count(Counter counter) { registry().counters[static_cast<uint32_t>(counter)].fetch_add(1); }

void count_kernel_allocations(uint64_t allocations) { registry().kernel_allocations.fetch_add(allocations); }

}  // namespace sim_registry

uint64_t sim_seed() { return registry().seed.load(); }

void set_sim_seed(uint64_t seed) {
  Registry& shared = registry();
  shared.seed.store(seed);
  shared.opened.store(0);
}

void set_sim_schedule(const SimSchedule& schedule) {
  Registry& shared = registry();
  std::lock_guard<std::mutex> guard(shared.lock);
  shared.schedule = schedule;
}

SimStats sim_stats() {
  const auto value = [](sim_registry::Counter counter) {
    return registry().counters[static_cast<uint32_t>(counter)].load();
  };
  using sim_registry::Counter;
  return SimStats{value(Counter::waits), value(Counter::delivered), value(Counter::split),
                  value(Counter::held),  value(Counter::spurious),  value(Counter::stale_delivered),
                  value(Counter::cuts)};
}

void reset_sim_stats() {
  for (std::atomic<uint64_t>& counter : registry().counters) counter.store(0);
}

uint64_t sim_kernel_allocations() { return registry().kernel_allocations.load(); }

size_t sim_transfer_length(int fd, SimTransfer transfer, size_t length) {
  Registry& shared = registry();
  if (inside_simulation || length < 2 || shared.cutting_backends.load() == 0 || !is_byte_stream(fd)) return length;
  std::lock_guard<std::mutex> guard(shared.lock);
  for (SimBackend* backend : shared.backends) {
    if (backend == nullptr) continue;
    if (const size_t cut = backend->cut_length(fd, transfer, length); cut != length) return cut;
  }
  return length;
}

void sim_transfer_done(int fd, SimTransfer transfer, size_t allowed, size_t asked, ssize_t moved) {
  if (inside_simulation || allowed == asked || moved != static_cast<ssize_t>(allowed)) return;
  const int saved_errno = errno;
  Registry& shared = registry();
  std::lock_guard<std::mutex> guard(shared.lock);
  for (SimBackend* backend : shared.backends) {
    if (backend == nullptr || !backend->queue_follow_up(fd, transfer)) continue;
    // Under the registry's lock, so the backend stays open; its eventfd write passes through.
    inside_simulation = true;
    backend->wake_driver();
    inside_simulation = false;
  }
  errno = saved_errno;
}

}  // namespace emio
