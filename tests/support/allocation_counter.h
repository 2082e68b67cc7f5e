// SPDX-License-Identifier: MIT
// Counts every heap allocation the process makes (malloc, calloc, realloc, aligned forms, and so every
// operator new), on any thread, so that tests can prove a stretch of code allocates nothing.
#pragma once

#include <cstdint>

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

}  // namespace emio_test
