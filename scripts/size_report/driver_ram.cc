// SPDX-License-Identifier: MIT
// Prints the sizes of the types a Driver's memory is made of, for scripts/size-report.sh. Built for each
// target and run under qemu-user, so the figures are the target ABI's (pointer size, alignment), not
// the host's. Uses only public headers.
#include <cstdio>

#include "emio/driver/driver.h"

int main() {
  const emio::DriverConfig defaults{};
  std::printf("sizeof_driver %zu\n", sizeof(emio::Driver));
  std::printf("sizeof_registration_slot %zu\n", sizeof(emio::RegistrationSlot));
  std::printf("sizeof_event %zu\n", sizeof(emio::Backend::Event));
  std::printf("default_event_capacity %u\n", static_cast<unsigned>(defaults.event_capacity));
#if defined(EMIO_BACKEND_URING)
  // The ring the kernel allocates and maps into the process when io_uring runs (the CQ is twice the SQ).
  const unsigned sq_entries = defaults.uring.sq_entries;
  std::printf("uring_ring_bytes %zu\n",
              sq_entries * (sizeof(io_uring_sqe) + sizeof(uint32_t)) + 2 * sq_entries * sizeof(io_uring_cqe));
  std::printf("uring_sq_entries %u\n", sq_entries);
#endif
  return 0;
}
