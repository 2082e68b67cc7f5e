// The one place that picks the backend, at compile time (EMIO_BACKEND in CMake, emio/config.h here).
// Every backend file has the same shape, checked below; nothing outside the backend files knows which
// OS mechanism runs, and the hot path has no virtual call.
#pragma once

#include <concepts>
#include <span>

#include "emio/alloc/token.h"
#include "emio/config.h"
#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

#if defined(EMIO_BACKEND_EPOLL)
#include "emio/driver/epoll_backend.h"
namespace emio {
using Backend = EpollBackend;
}
#else
#error "emio/config.h names no backend this tree provides"
#endif

namespace emio {

template <typename B>
concept BackendShape = requires(B backend, const typename B::Event& event, std::span<typename B::Event> events, int fd,
                                Token token, Interest interest, int timeout_ms) {
  { B::name } -> std::convertible_to<const char*>;
  { backend.open() } -> std::same_as<Error>;
  { backend.add(fd, token, interest) } -> std::same_as<Error>;
  { backend.remove(fd) } -> std::same_as<Error>;
  { backend.wait(events, timeout_ms) } -> std::same_as<Result<uint32_t>>;
  { B::token_of(event) } -> std::same_as<Token>;
  { B::ready_of(event) } -> std::same_as<Ready>;
};

static_assert(BackendShape<Backend>, "the selected backend does not have the shape the driver expects");

}  // namespace emio
