// Without a sanitizer the test binary interposes malloc and its siblings, forwarding to glibc's
// __libc_* entry points; under ASan or TSan, which own malloc, it installs the sanitizer's hooks.
#include "support/allocation_counter.h"
#include "support/sanitizers.h"

#include <atomic>
#include <cstddef>

namespace {
std::atomic<uint64_t> allocation_count{0};
std::atomic<uint64_t> libkqueue_allocation_count{0};
thread_local int libkqueue_depth = 0;
void count_one() {
  if (libkqueue_depth > 0) {
    libkqueue_allocation_count.fetch_add(1, std::memory_order_relaxed);
  } else {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
  }
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

namespace {
void on_malloc(const volatile void*, size_t) { count_one(); }
void on_free(const volatile void*) {}
}  // namespace

void emio_test::install_allocation_counter() { (void)__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }

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

uint64_t emio_test::allocations_so_far() { return allocation_count.load(std::memory_order_relaxed); }
