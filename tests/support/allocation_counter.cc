// SPDX-License-Identifier: MIT
// Without a sanitizer the test binary interposes malloc and its siblings, forwarding to glibc's
// __libc_* entry points; under ASan or TSan, which own malloc, it installs the sanitizer's hooks; on
// macOS it swaps the default malloc zone's entry points (see there); on Windows the test binary is
// linked with -Wl,--wrap for them (the C runtime's malloc is a DLL import no definition here replaces).
#include "support/allocation_counter.h"

#include "support/sanitizers.h"
#if defined(EMIO_TEST_SIM_KERNEL)
#include "emio/driver/sim_backend.h"
#endif

#include <atomic>
#include <cstddef>

namespace {
std::atomic<uint64_t> allocation_count{0};
std::atomic<uint64_t> libkqueue_allocation_count{0};
thread_local int libkqueue_depth = 0;
void count_one() {
#if defined(_WIN32)
  // mingw's thread_local is emulated TLS, whose first use on a thread allocates: reading the depth here
  // would recurse into the wrapper. There is no libkqueue on Windows anyway.
  allocation_count.fetch_add(1, std::memory_order_relaxed);
#else
  if (libkqueue_depth > 0) {
    libkqueue_allocation_count.fetch_add(1, std::memory_order_relaxed);
  } else {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
  }
#endif
}
}  // namespace

void emio_test::enter_libkqueue() { libkqueue_depth += 1; }
void emio_test::leave_libkqueue() { libkqueue_depth -= 1; }
uint64_t emio_test::libkqueue_allocations_so_far() {
  return libkqueue_allocation_count.load(std::memory_order_relaxed);
}

#if defined(EMIO_TEST_SANITIZED)

extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));

extern "C" void __sanitizer_print_stack_trace();

namespace {
std::atomic<bool> print_next_stack{false};
void on_malloc(const volatile void*, size_t) {
  count_one();
  if (print_next_stack.exchange(false, std::memory_order_relaxed)) __sanitizer_print_stack_trace();
}
void on_free(const volatile void*) {}
}  // namespace

void emio_test::print_stack_of_next_allocation(bool armed) { print_next_stack.store(armed, std::memory_order_relaxed); }

void emio_test::install_allocation_counter() { (void)__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }

#elif defined(__APPLE__)

// macOS has no __libc_malloc to forward to, and its two-level namespace keeps a malloc defined here from
// replacing libSystem's for other libraries. So the default malloc zone's entry points are swapped for
// counting ones: malloc(), operator new and CppUTest's leak detector all go through that zone.
#include <mach/mach.h>
#include <malloc/malloc.h>

namespace {
void* (*zone_malloc)(malloc_zone_t*, size_t) = nullptr;
void* (*zone_calloc)(malloc_zone_t*, size_t, size_t) = nullptr;
void* (*zone_realloc)(malloc_zone_t*, void*, size_t) = nullptr;
void* (*zone_memalign)(malloc_zone_t*, size_t, size_t) = nullptr;
void* counting_malloc(malloc_zone_t* zone, size_t size) {
  count_one();
  return zone_malloc(zone, size);
}
void* counting_calloc(malloc_zone_t* zone, size_t count, size_t size) {
  count_one();
  return zone_calloc(zone, count, size);
}
void* counting_realloc(malloc_zone_t* zone, void* pointer, size_t size) {
  count_one();
  return zone_realloc(zone, pointer, size);
}
void* counting_memalign(malloc_zone_t* zone, size_t alignment, size_t size) {
  count_one();
  return zone_memalign(zone, alignment, size);
}
}  // namespace

void emio_test::install_allocation_counter() {
  malloc_zone_t* zone = malloc_default_zone();
  // The zone's table is read-only since macOS 10.7: writable for the swap, then read-only again.
  const auto address = reinterpret_cast<vm_address_t>(zone);
  (void)vm_protect(mach_task_self(), address, sizeof *zone, 0, VM_PROT_READ | VM_PROT_WRITE);
  zone_malloc = zone->malloc;
  zone_calloc = zone->calloc;
  zone_realloc = zone->realloc;
  zone->malloc = counting_malloc;
  zone->calloc = counting_calloc;
  zone->realloc = counting_realloc;
  if (zone->version >= 5 && zone->memalign != nullptr) {
    zone_memalign = zone->memalign;
    zone->memalign = counting_memalign;
  }
  (void)vm_protect(mach_task_self(), address, sizeof *zone, 0, VM_PROT_READ);
}

#elif defined(_WIN32)

// Every object of the static link, libstdc++'s operator new included, calls these instead of the CRT's.
extern "C" {
void* __real_malloc(size_t size);
void* __real_calloc(size_t count, size_t size);
void* __real_realloc(void* pointer, size_t size);
void* __real__aligned_malloc(size_t size, size_t alignment);
void* __wrap_malloc(size_t size) {
  count_one();
  return __real_malloc(size);
}
void* __wrap_calloc(size_t count, size_t size) {
  count_one();
  return __real_calloc(count, size);
}
void* __wrap_realloc(void* pointer, size_t size) {
  count_one();
  return __real_realloc(pointer, size);
}
void* __wrap__aligned_malloc(size_t size, size_t alignment) {
  count_one();
  return __real__aligned_malloc(size, alignment);
}
}

void emio_test::install_allocation_counter() {}

#else

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* pointer);

void* malloc(size_t size) {
  count_one();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  count_one();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  count_one();
  return __libc_realloc(pointer, size);
}
void* memalign(size_t alignment, size_t size) {
  count_one();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }
int posix_memalign(void** result, size_t alignment, size_t size) {
  void* pointer = memalign(alignment, size);
  if (pointer == nullptr) return 12;  // ENOMEM
  *result = pointer;
  return 0;
}
void free(void* pointer) { __libc_free(pointer); }
}

void emio_test::install_allocation_counter() {}

#endif

#if !defined(EMIO_TEST_SANITIZED)
void emio_test::print_stack_of_next_allocation(bool) {}  // no stack printer without a sanitizer runtime
#endif

uint64_t emio_test::allocations_so_far() {
#if defined(EMIO_TEST_SIM_KERNEL)
  // The simulated kernel's tables stand for kernel memory, as libkqueue's knotes do: counted apart.
  return allocation_count.load(std::memory_order_relaxed) - emio::sim_kernel_allocations();
#else
  return allocation_count.load(std::memory_order_relaxed);
#endif
}
