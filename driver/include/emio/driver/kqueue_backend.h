// SPDX-License-Identifier: MIT
// The kqueue backend (macOS, the BSDs; libkqueue on Linux, for tests): edge-triggered readiness, as mio
// does it. One of the backend files; each has the same shape (see backend.h), and exactly one is
// compiled into a build. docs/design.md, "The kqueue backend", says what differs from epoll.
#pragma once

#include <sys/types.h>  // before <sys/event.h>: the BSDs' header uses u_short and friends from it

#include <sys/event.h>

#include <cstdint>
#include <span>

#include "emio/alloc/token.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "emio/port/result.h"
#include "emio/port/wake_event.h"

namespace emio {

// The token travels in udata, a pointer: all 64 bits of it must fit.
static_assert(sizeof(void*) >= sizeof(uint64_t), "the kqueue backend keeps the 64-bit token in kevent::udata");

class KqueueBackend {
 public:
  using Event = struct kevent;
  static constexpr const char* name = "kqueue";

  Error open(const BackendOptions& options);
  void close();
  // Watches `fd` with one EVFILT_READ and/or one EVFILT_WRITE filter (EV_CLEAR: one event per edge),
  // both in one kevent call; events carry `token`. A filter that fails takes the other back out.
  Error add(int fd, Token token, Interest interest);
  // Deletes both filters of `fd` (ENOENT for a filter never added is not an error). Before close():
  // libkqueue, unlike a BSD kernel, keeps a closed fd's filters (docs/design.md).
  Error remove(int fd, Token token);
  // Waits up to `timeout_ms` (-1: forever) and fills `events`; returns how many. EINTR is returned as is.
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms);

  static Token token_of(const Event& event) {
    return Token::from_bits(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(event.udata)));
  }
  static Ready ready_of(const Event& event);  // inline below: every event goes through it
  // EV_CLEAR filters last until deleted.
  static constexpr bool interest_ended(const Event&) { return false; }
  // EV_ADD on a watched fd modifies its filter instead of failing: the driver tells a duplicate by the
  // file's identity (Driver::check_pollable), as for io_uring.
  static constexpr bool refuses_duplicate_fds() { return false; }
  const char* active_name() const { return name; }
  Error fallback_reason() const { return Error{}; }

  // The driver's wake (Handle::wake). EVFILT_USER with NOTE_TRIGGER where the kernel has it (one
  // kevent call, no fd); else the port's pipe, watched for reading like any fd.
  Error open_wake(Token wake_token);
  Error signal_wake();
  // The driver saw the wake token. A pipe is drained here: under EV_CLEAR only a write that succeeds is
  // a new edge, and a pipe left full would refuse the next write (EAGAIN), so that wake would be lost.
  void wake_reported(const Event& event);
  bool wakes_through_pipe() const { return wake_pipe_.poll_fd() >= 0; }

  // What one EV_RECEIPT entry says about the change it answers: ok, or the errno in its data. EPIPE is
  // ok: macOS 10.10 and 10.11 say EPIPE when a pipe whose peer has closed is registered, yet deliver
  // its events (mio ignores it too). Public for the tests, which cannot make a Linux kernel say EPIPE.
  static Error receipt_error(const Event& receipt);

 private:
  Fd kqueue_;
  WakeEvent wake_pipe_;  // open only when EVFILT_USER is missing (or emulated missing)
  Token wake_token_{};
  bool emulate_missing_evfilt_user_ = false;
};

// Inline: called once per event, and a call into another translation unit costs more than its work.
inline Ready KqueueBackend::ready_of(const Event& event) {
  // The common case, first and cheap: a plain edge of one filter.
  if ((event.flags & (EV_EOF | EV_ERROR)) == 0) {
    if (event.filter == EVFILT_READ) return Ready::readable;
    return event.filter == EVFILT_WRITE ? Ready::writable : Ready{};
  }
  // An EV_ERROR entry answers a change that failed (data: the errno); it concerns the whole source.
  if ((event.flags & EV_ERROR) != 0) return event.data != 0 ? Ready::error : Ready{};
  // EV_EOF: the peer closed its side of this filter's direction, final. Its fflags carry the socket's
  // pending error, if any (as mio reads it). The filter still fires: data may be left to read.
  Ready ready = event.fflags != 0 ? Ready::error : Ready{};
  if (event.filter == EVFILT_READ) return ready | Ready::readable | Ready::read_closed;
  if (event.filter == EVFILT_WRITE) return ready | Ready::writable | Ready::write_closed;
  return ready;
}

}  // namespace emio
