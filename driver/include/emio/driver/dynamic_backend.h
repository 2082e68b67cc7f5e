// SPDX-License-Identifier: MIT
// The backend an io_uring build runs: io_uring, or epoll when io_uring is refused (by the config, or
// by the kernel at init). A tagged choice switched on at each call, as libxev's Dynamic: no virtual
// call, and when only epoll is compiled in, backend.h uses EpollBackend itself instead of this.
#pragma once

#include <cstdint>
#include <span>

#include "emio/driver/epoll_backend.h"
#include "emio/driver/uring_backend.h"

namespace emio {

class DynamicBackend {
 public:
  // Both backends speak epoll_event: io_uring's poll masks have epoll's bit values.
  using Event = epoll_event;
  static_assert(std::is_same_v<EpollBackend::Event, UringBackend::Event>);
  enum class Kind : uint8_t { epoll, uring };

  // Opens the backend `options.choice` asks for. io_uring refused with ENOSYS, EPERM or EINVAL (or
  // unusable for want of a feature) means epoll, with that refusal kept as fallback_reason().
  Error open(const BackendOptions& options);
  void close() {
    uring_.close();
    epoll_.close();
    kind_ = Kind::epoll;
    fallback_reason_ = Error{};
  }

  Error add(int fd, Token token, Interest interest) {
    return kind_ == Kind::uring ? uring_.add(fd, token, interest) : epoll_.add(fd, token, interest);
  }
  Error remove(int fd, Token token) {
    return kind_ == Kind::uring ? uring_.remove(fd, token) : epoll_.remove(fd, token);
  }
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms) {
    return kind_ == Kind::uring ? uring_.wait(events, timeout_ms) : epoll_.wait(events, timeout_ms);
  }
  static Token token_of(const Event& event) { return Token::from_bits(event.data.u64); }
  // UringBackend's reading covers epoll's events too: the one bit it adds never comes from epoll.
  static Ready ready_of(const Event& event) { return UringBackend::ready_of(event); }
  static bool interest_ended(const Event& event) { return UringBackend::interest_ended(event); }
  bool refuses_duplicate_fds() const { return kind_ == Kind::epoll; }

  const char* active_name() const { return kind_ == Kind::uring ? uring_.active_name() : EpollBackend::name; }
  Error fallback_reason() const { return fallback_reason_; }
  Kind kind() const { return kind_; }
  UringBackend& uring() { return uring_; }
  const UringBackend& uring() const { return uring_; }

 private:
  Kind kind_ = Kind::epoll;
  Error fallback_reason_{};
  EpollBackend epoll_;
  UringBackend uring_;
};

}  // namespace emio
