// SPDX-License-Identifier: MIT
// Counts every heap allocation the process makes (malloc, calloc, realloc, aligned forms, and so every
// operator new), on any thread, so that tests can prove a stretch of code allocates nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>

namespace emio_test {

void install_allocation_counter();
uint64_t allocations_so_far();
// Under ASan or TSan, while armed: the next allocation, on any thread, prints its stack (once, then it
// disarms), so that a test that counts one allocation too many says where it was made. Elsewhere nothing.
void print_stack_of_next_allocation(bool armed);

// kqueue on Linux is libkqueue, a user-space library: the knotes a BSD kernel keeps in kernel memory are
// malloc'ed in the process, inside kqueue() and kevent(). Those are counted here instead of above
// (libkqueue_allocations.cc wraps both calls); zero in every other build.
uint64_t libkqueue_allocations_so_far();
// A sim build's simulated kernel (emio::sim_kernel_allocations) is left out of allocations_so_far() the
// same way.
// Set by the wrappers around libkqueue's entry points for the calling thread.
void enter_libkqueue();
void leave_libkqueue();

// A thread that runs `body`, returned once its start-up is over. Under ASan a new thread allocates as it
// starts (pthread_getattr_np in start_thread): on a loaded machine that came after a count had begun and
// was charged to the code under test (RuntimeNoHeap, then NoHeap about 1 run in 60 under asan).
template <typename Body>
std::thread started_thread(Body body) {
  std::atomic<bool> started{false};
  std::thread thread([&started, body = std::move(body)]() mutable {
    started.store(true);  // the last use of `started`, which this function's return ends
    body();
  });
  while (!started.load()) std::this_thread::yield();
  return thread;
}

}  // namespace emio_test
