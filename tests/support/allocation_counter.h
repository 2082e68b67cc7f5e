// SPDX-License-Identifier: MIT
// Counts every heap allocation the process makes (malloc, calloc, realloc, aligned forms, and so every
// operator new), on any thread, so that tests can prove a stretch of code allocates nothing.
#pragma once

#include <cstdint>

namespace emio_test {

void install_allocation_counter();
uint64_t allocations_so_far();

// kqueue on Linux is libkqueue, a user-space library: the knotes a BSD kernel keeps in kernel memory are
// malloc'ed in the process, inside kqueue() and kevent(). Those are counted here instead of above
// (libkqueue_allocations.cc wraps both calls); zero in every other build.
uint64_t libkqueue_allocations_so_far();
// A sim build's simulated kernel (emio::sim_kernel_allocations) is left out of allocations_so_far() the
// same way.
// Set by the wrappers around libkqueue's entry points for the calling thread.
void enter_libkqueue();
void leave_libkqueue();

}  // namespace emio_test
