// SPDX-License-Identifier: MIT
// An LD_PRELOAD library: tests/support/allocation_counter.cc's interposed malloc family (every heap
// allocation of the process, operator new included), plus a report at exit to the file named by
// EMIO_ALLOC_PROBE_OUT. The end-to-end tests run an example twice, idle and under load, and require
// equal counts: any allocation caused by connections, traffic or scrapes makes them differ.
#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "support/allocation_counter.h"

namespace {

// Runs at exit() and after main returns: a daemon that exits cleanly on SIGTERM reaches it.
__attribute__((destructor)) void report_allocations() {
  const char* path = std::getenv("EMIO_ALLOC_PROBE_OUT");
  if (path == nullptr) return;
  char line[32];
  const int length = std::snprintf(line, sizeof line, "%" PRIu64 "\n", emio_test::allocations_so_far());
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (::write(fd, line, static_cast<size_t>(length)) != length) std::perror("alloc_probe: write");
  ::close(fd);
}

}  // namespace
