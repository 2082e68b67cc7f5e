// Counts every heap allocation the process makes (malloc, calloc, realloc, aligned forms, and so every
// operator new), on any thread, so that tests can prove a stretch of code allocates nothing.
#pragma once

#include <cstdint>

namespace emio_test {

void install_allocation_counter();
uint64_t allocations_so_far();

}  // namespace emio_test
