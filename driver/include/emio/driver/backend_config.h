// SPDX-License-Identifier: MIT
// Which backend a Driver should run, and how io_uring is set up: the part of DriverConfig that the
// backends read. Kept free of backend headers so that every build (and every example) can name them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "emio/alloc/token.h"
#include "emio/driver/ready.h"
#include "emio/driver/waker.h"
#include "emio/port/error.h"

#if defined(_WIN32)
// No <sys/uio.h> on Windows; UringOptions still names its iovec (never used there), in POSIX's layout.
struct iovec {
  void* iov_base;
  size_t iov_len;
};
#else
#include <sys/uio.h>
#endif

namespace emio {

enum class BackendChoice : uint8_t {
  automatic,     // kqueue in a kqueue build; else io_uring when compiled in and usable here, else epoll
  epoll,         // epoll readiness
  uring,         // io_uring: readiness over POLL_ADD and native completion operations
  uring_sqpoll,  // io_uring with a kernel submission thread (IORING_SETUP_SQPOLL)
  kqueue,        // kqueue readiness (macOS, the BSDs; libkqueue on Linux, for tests)
  iocp,          // IOCP readiness through AFD poll (Windows)
};

// "automatic", "epoll", "uring", "uring-sqpoll", "kqueue", "iocp": the spellings parse_backend_choice accepts.
const char* backend_choice_name(BackendChoice choice);
// Error::backend_unavailable for any other text (and for nullptr). Whether the backend is compiled in
// is checked by Driver::init, which refuses a choice this build lacks with the same error.
Error parse_backend_choice(const char* text, BackendChoice& choice);
// True when this build has the backend `choice` asks for (io_uring needs EMIO_BACKEND=uring, kqueue
// EMIO_BACKEND=kqueue; a kqueue build has no epoll).
bool backend_choice_compiled_in(BackendChoice choice);

// io_uring's set-up. Ring sizes are fixed here, at init; docs/io_uring.md gives the memory per size.
struct UringOptions {
  uint32_t sq_entries = 256;      // a power of two; the completion queue gets twice as many
  uint32_t sqpoll_idle_ms = 100;  // uring_sqpoll: how long the kernel thread spins before it sleeps
  // uring_sqpoll: the CPU the kernel thread runs on (IORING_SETUP_SQ_AFF), best one the application
  // threads leave free; -1: wherever the scheduler puts it.
  int32_t sqpoll_cpu = -1;
  // Kernel-bypass turn: spin reaping completions from the shared ring, without a system call, for up
  // to this long before blocking in io_uring_enter. 0: block at once.
  uint32_t busy_poll_budget_us = 0;
  // Behave as on a 5.10 LTS kernel: single-shot POLL_ADD re-armed after each event, and waits bounded
  // by a TIMEOUT submission (no IORING_FEAT_EXT_ARG). For tests of that path on newer kernels.
  bool emulate_kernel_5_10 = false;
  // Kernel-bypass mode: a table of registered files that Driver::attach fills, so that operations
  // skip the kernel's fd lookup (IOSQE_FIXED_FILE). 0: no table.
  uint32_t registered_file_capacity = 0;
  // Kernel-bypass mode: memory registered with the kernel at init (io_uring_register_buffers), so that
  // read and write operations whose buffer lies inside one of these regions skip the kernel's page
  // pinning (READ_FIXED, WRITE_FIXED). The caller's memory; it must outlive the driver.
  std::span<const iovec> registered_buffers{};
};

// kqueue's set-up.
struct KqueueOptions {
  // Wake the driver through the port's pipe, as on a kernel without EVFILT_USER (OpenBSD before 7.x,
  // NetBSD before 10), even where EVFILT_USER works. For tests of that path.
  bool emulate_missing_evfilt_user = false;
};

// Buffers for multishot receives, fixed at init. On io_uring they form a provided buffer ring the kernel
// picks from (5.19); on epoll the driver receives into one buffer of `size` bytes. 0: none.
struct ReceiveBufferOptions {
  uint32_t count = 0;  // a power of two, at most 32768
  uint32_t size = 0;   // bytes per buffer

  // None asked for, or a count and size the kernel's buffer ring takes. Driver::init refuses anything else
  // with EINVAL on every backend, so a wrong option is never mistaken for a kernel without io_uring.
  bool valid() const {
    if (count == 0) return true;
    return (count & (count - 1)) == 0 && count <= 32768 && size != 0;
  }
};

// The readiness the driver holds for a registration now (empty for a stale token), for a backend that
// polls a direction again only once its task cleared it (IOCP's edge emulation). Driver thread only.
struct ReadinessProbe {
  Ready (*function)(void* context, Token token) = nullptr;
  void* context = nullptr;
};

struct BackendOptions {
  BackendChoice choice = BackendChoice::automatic;
  UringOptions uring{};
  ReceiveBufferOptions receive_buffers{};
  // The driver's registration capacity: a backend sizes its fixed tables (queued requests, pending
  // removals) from it at open.
  uint32_t registration_capacity = 0;
  // Wakes the driver's thread (Handle::wake): a backend that queues a request made on another thread for
  // the driver thread to apply calls it, so that a sleeping turn applies the request at once.
  Waker wake_driver{};
  KqueueOptions kqueue{};
  ReadinessProbe current_readiness{};
};

}  // namespace emio
