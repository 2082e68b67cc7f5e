// SPDX-License-Identifier: MIT
// The epoll backend: edge-triggered readiness, as mio does it. One of the backend files; each has the
// same shape (see backend.h), and exactly one is compiled into a build.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "emio/alloc/token.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "emio/port/result.h"

namespace emio {

class EpollBackend {
 public:
  using Event = epoll_event;
  static constexpr const char* name = "epoll";

  // The options choose between backends; epoll itself has nothing to set up.
  Error open(const BackendOptions& options);
  void close() { epoll_.reset(); }
  // Watches `fd` for `interest`, edge-triggered; events carry `token`. EEXIST if already watched.
  Error add(int fd, Token token, Interest interest);
  // Stops watching `fd`. Must run before the fd is closed: epoll interest belongs to the open file
  // description, so a dup'ed or inherited copy would keep reporting (MPD#1003, h2o#1427).
  Error remove(int fd, Token token);
  // Waits up to `timeout_ms` (-1: forever) and fills `events`; returns how many. EINTR is returned as is.
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms);

  static Token token_of(const Event& event) { return Token::from_bits(event.data.u64); }
  static Ready ready_of(const Event& event);  // inline below: every event goes through it
  // An edge-triggered registration lasts until removed, and epoll refuses a second one (EEXIST).
  static constexpr bool interest_ended(const Event&) { return false; }
  static constexpr bool refuses_duplicate_fds() { return true; }
  const char* active_name() const { return name; }
  Error fallback_reason() const { return Error{}; }

 private:
  Fd epoll_;
};

// Inline: called once per event, and a call into another translation unit costs more than its work.
inline Ready EpollBackend::ready_of(const Event& event) {
  const uint32_t flags = event.events;
  // The common case, first and cheap: plain readable and/or writable, nothing closed or in error.
  if ((flags & ~uint32_t{EPOLLIN | EPOLLOUT}) == 0) {
    if (flags == EPOLLIN) return Ready::readable;
    if (flags == EPOLLOUT) return Ready::writable;
    return flags == 0 ? Ready{} : Ready::readable | Ready::writable;
  }
  Ready ready;
  if (flags & EPOLLIN) ready = ready | Ready::readable;
  if (flags & EPOLLOUT) ready = ready | Ready::writable;
  if (flags & EPOLLPRI) ready = ready | Ready::priority;
  if (flags & EPOLLERR) ready = ready | Ready::error;
  // EPOLLHUP: both directions are gone. EPOLLRDHUP: the peer shut its write side down.
  if (flags & (EPOLLHUP | EPOLLRDHUP)) ready = ready | Ready::read_closed;
  // EPOLLERR alone is what the write end of a pipe gets when the read end closes (as in mio).
  if ((flags & EPOLLHUP) || flags == EPOLLERR || ((flags & EPOLLOUT) && (flags & EPOLLERR))) {
    ready = ready | Ready::write_closed;
  }
  return ready;
}

}  // namespace emio
