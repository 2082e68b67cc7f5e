// SPDX-License-Identifier: MIT
// The one place that picks the backend, at compile time (EMIO_BACKEND in CMake, emio/config.h here).
// Every backend file has the same shape, checked below; nothing outside the backend files knows which
// OS mechanism runs, and the hot path has no virtual call. An io_uring build carries epoll as well and
// picks one of the two at init (DynamicBackend); an epoll build uses EpollBackend directly.
#pragma once

#include <concepts>
#include <span>

#include "emio/alloc/token.h"
#include "emio/config.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

#if defined(EMIO_BACKEND_URING)
#include "emio/driver/dynamic_backend.h"
namespace emio {
using Backend = DynamicBackend;
}
#elif defined(EMIO_BACKEND_EPOLL)
#include "emio/driver/epoll_backend.h"
namespace emio {
using Backend = EpollBackend;
}
#elif defined(EMIO_BACKEND_KQUEUE)
#include "emio/driver/kqueue_backend.h"
namespace emio {
using Backend = KqueueBackend;
}
#elif defined(EMIO_BACKEND_IOCP)
#include "emio/driver/iocp_backend.h"
namespace emio {
using Backend = IocpBackend;
}
#elif defined(EMIO_BACKEND_SIM)
#include "emio/driver/sim_backend.h"
namespace emio {
using Backend = SimBackend;  // tests only: epoll under a seeded schedule
}
#else
#error "emio/config.h names no backend this tree provides"
#endif

namespace emio {

template <typename B>
concept BackendShape = requires(B backend, const B constant, const typename B::Event& event,
                                std::span<typename B::Event> events, const BackendOptions& options, int fd, Token token,
                                Interest interest, int timeout_ms) {
  { backend.open(options) } -> std::same_as<Error>;
  // Releases everything open() took, so that a failed Driver::init can be retried.
  { backend.close() } -> std::same_as<void>;
  { backend.add(fd, token, interest) } -> std::same_as<Error>;
  // fd -1: the registration's fd number now names another registration's file; remove what the token
  // names without touching the number (epoll: nothing, EBADF; io_uring: the poll, by token) and say EBADF.
  { backend.remove(fd, token) } -> std::same_as<Error>;
  { backend.wait(events, timeout_ms) } -> std::same_as<Result<uint32_t>>;
  { B::token_of(event) } -> std::same_as<Token>;
  { B::ready_of(event) } -> std::same_as<Ready>;
  // A poll that ends after firing (io_uring single-shot, or multishot cut short) is armed again by
  // the driver, under its registrations lock, only if the registration is still live.
  { B::interest_ended(event) } -> std::same_as<bool>;
  // epoll refuses a second registration of one fd (EEXIST), a closed fd (EBADF) and a regular file
  // (EPERM) itself; io_uring would not, so for it the driver does (Driver::check_pollable).
  { constant.refuses_duplicate_fds() } -> std::same_as<bool>;
  { constant.active_name() } -> std::convertible_to<const char*>;
  { constant.fallback_reason() } -> std::same_as<Error>;
};

// A backend that wakes the driver its own way (kqueue: EVFILT_USER, or its pipe; IOCP: a posted
// completion) instead of the driver
// watching the port's WakeEvent like any fd. The driver then calls these in place of the WakeEvent's.
template <typename B>
concept OwnsDriverWake = requires(B backend, const typename B::Event& event, Token token) {
  { backend.open_wake(token) } -> std::same_as<Error>;     // after open(); events carry `token`
  { backend.signal_wake() } -> std::same_as<Error>;        // any thread; one system call
  { backend.wake_reported(event) } -> std::same_as<void>;  // the driver thread saw `token`
};

#if defined(EMIO_BACKEND_KQUEUE)
static_assert(BackendShape<KqueueBackend>, "the kqueue backend does not have the shape the driver expects");
static_assert(OwnsDriverWake<KqueueBackend>, "the kqueue backend must wake the driver through EVFILT_USER");
#elif defined(EMIO_BACKEND_IOCP)
static_assert(BackendShape<IocpBackend>, "the IOCP backend does not have the shape the driver expects");
static_assert(OwnsDriverWake<IocpBackend>, "the IOCP backend must wake the driver through a posted completion");
#else
static_assert(BackendShape<EpollBackend>, "the epoll backend does not have the shape the driver expects");
#endif
#if defined(EMIO_BACKEND_SIM)
static_assert(BackendShape<SimBackend>, "the sim backend does not have the shape the driver expects");
#endif
#if defined(EMIO_BACKEND_URING)
static_assert(BackendShape<UringBackend>, "the io_uring backend does not have the shape the driver expects");
static_assert(BackendShape<DynamicBackend>, "the dynamic backend does not have the shape the driver expects");
#endif

}  // namespace emio
