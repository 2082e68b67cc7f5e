// SPDX-License-Identifier: MIT
// kqueue-linux builds only: the test binaries link with -Wl,--wrap=kqueue,--wrap=kevent, so that every
// call emio makes into libkqueue passes here, and what libkqueue allocates inside it (its knotes and
// tables: kernel memory on a BSD) is counted apart from emio's own allocations (allocation_counter.h).
#include <sys/types.h>

#include <sys/event.h>

#include "support/allocation_counter.h"

extern "C" {
int __real_kqueue();
int __real_kevent(int kq, const struct kevent* changes, int change_count, struct kevent* events, int event_count,
                  const struct timespec* timeout);

int __wrap_kqueue() {
  emio_test::enter_libkqueue();
  const int fd = __real_kqueue();
  emio_test::leave_libkqueue();
  return fd;
}

int __wrap_kevent(int kq, const struct kevent* changes, int change_count, struct kevent* events, int event_count,
                  const struct timespec* timeout) {
  emio_test::enter_libkqueue();
  const int count = __real_kevent(kq, changes, change_count, events, event_count, timeout);
  emio_test::leave_libkqueue();
  return count;
}
}
