/* An LD_PRELOAD library that counts every heap allocation a program makes (malloc and all its siblings,
 * hence every operator new) and, at exit, writes the count to the file named by EMIO_ALLOC_PROBE_OUT.
 * The end-to-end tests run an example twice, once idle and once under load, and require equal counts:
 * any allocation caused by connections, traffic or scrapes makes them differ. It forwards to glibc's
 * __libc_* entry points, as tests/support/allocation_counter.cc does, so it never recurses. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* pointer);

static atomic_ullong allocation_count;

static void count_one(void) { atomic_fetch_add_explicit(&allocation_count, 1, memory_order_relaxed); }

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
  if (pointer == NULL) return 12; /* ENOMEM */
  *result = pointer;
  return 0;
}
void free(void* pointer) { __libc_free(pointer); }

/* Runs at exit() and at a return from main; a daemon that exits cleanly on SIGTERM reaches it. */
__attribute__((destructor)) static void report_allocations(void) {
  const char* path = getenv("EMIO_ALLOC_PROBE_OUT");
  if (path == NULL) return;
  char line[64];
  const int length = snprintf(line, sizeof line, "%llu\n", (unsigned long long)atomic_load(&allocation_count));
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || length <= 0) return;
  if (write(fd, line, (size_t)length) != length) (void)0; /* nothing sensible to do at exit */
  close(fd);
}
