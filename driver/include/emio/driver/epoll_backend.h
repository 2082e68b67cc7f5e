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

namespace epoll_detail {

// What epoll's flags mean (mio's reading). Evaluated at compile time only, into the table below.
constexpr Ready ready_from_flags(uint32_t flags) {
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

// The six flags a registration can report, squeezed into a table index: the five low ones stay where they
// are and EPOLLRDHUP (0x2000) moves down to 0x20. The kernel reports nothing else for what add() asks.
static_assert(EPOLLIN == 0x1 && EPOLLPRI == 0x2 && EPOLLOUT == 0x4 && EPOLLERR == 0x8 && EPOLLHUP == 0x10 &&
                  EPOLLRDHUP == 0x2000,
              "epoll's flag values are Linux ABI");
constexpr uint32_t low_flags = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP;
constexpr unsigned rdhup_shift = 8;
constexpr uint32_t squeezed(uint32_t flags) { return (flags & low_flags) | ((flags & EPOLLRDHUP) >> rdhup_shift); }
constexpr uint32_t flags_count = 64;

struct ReadyTable {
  Ready of[flags_count];
};
constexpr ReadyTable make_ready_table() {
  ReadyTable table{};
  for (uint32_t index = 0; index < flags_count; ++index) {
    table.of[index] = ready_from_flags((index & low_flags) | ((index << rdhup_shift) & EPOLLRDHUP));
  }
  return table;
}
inline constexpr ReadyTable ready_table = make_ready_table();
static_assert(ready_table.of[squeezed(EPOLLIN | EPOLLRDHUP)] == (Ready::readable | Ready::read_closed),
              "the squeezed index must keep EPOLLRDHUP");

}  // namespace epoll_detail

// Inline: called once per event, and a call into another translation unit costs more than its work. One
// table load, no branch per flag (the branches were a tenth of the dispatch's own instructions).
inline Ready EpollBackend::ready_of(const Event& event) {
  return epoll_detail::ready_table.of[epoll_detail::squeezed(event.events)];
}

}  // namespace emio
