// SPDX-License-Identifier: MIT
// The IOCP backend (Windows): readiness through IOCTL_AFD_POLL on a completion port, the way wepoll and
// mio do it, with epoll's edge-triggered contract emulated on top. One of the backend files; each has
// the same shape (see backend.h), and exactly one is compiled into a build. docs/design.md, "Windows
// (IOCP)", says what differs from epoll.
#pragma once

// winsock2.h before windows.h (which would pull the old winsock.h in).
// clang-format off
#include <winsock2.h>
#include <windows.h>
// clang-format on

#include <cstdint>
#include <span>

#include "emio/alloc/token.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

struct IocpTables;  // the AFD handle pool, the per-socket poll state and the update queue (iocp_backend.cc)

// wait() rewrites each completion entry it keeps into an event: the token in lpCompletionKey (a
// ULONG_PTR), the Ready bits in dwNumberOfBytesTransferred.
static_assert(sizeof(ULONG_PTR) >= sizeof(uint64_t), "the IOCP backend keeps the 64-bit token in the completion key");

class IocpBackend {
 public:
  using Event = OVERLAPPED_ENTRY;
  static constexpr const char* name = "iocp";

  IocpBackend() = default;
  IocpBackend(const IocpBackend&) = delete;
  IocpBackend& operator=(const IocpBackend&) = delete;
  ~IocpBackend() { close(); }

  // Makes the completion port, the AFD handles and the per-socket table (one entry per registration).
  Error open(const BackendOptions& options);
  void close();
  // `fd` is a socket (port/socket.h). Looks its base socket up (SIO_BASE_HANDLE: EBADF when `fd` is no
  // socket) and queues its first poll, which the next wait() sends.
  Error add(int fd, Token token, Interest interest);
  // Cancels the socket's poll (its completion still comes, and is dropped). EBADF when the socket was
  // closed first (AFD said so, or the handle is gone) or `fd` is -1.
  Error remove(int fd, Token token);
  // Sends the queued polls, waits up to `timeout_ms` (-1: forever) in GetQueuedCompletionStatusEx, and
  // turns the completions into events, re-queueing each socket's next poll. Never EINTR.
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms);

  static Token token_of(const Event& event) { return Token::from_bits(static_cast<uint64_t>(event.lpCompletionKey)); }
  static Ready ready_of(const Event& event) { return Ready::from_bits(event.dwNumberOfBytesTransferred); }
  // An AFD poll is one-shot, but the backend sends the next one itself (edge emulation needs it).
  static constexpr bool interest_ended(const Event&) { return false; }
  // AFD polls a socket twice without complaint: the driver tells a duplicate by its identity.
  static constexpr bool refuses_duplicate_fds() { return false; }
  const char* active_name() const { return name; }
  Error fallback_reason() const { return Error{}; }

  // The driver's wake: a completion posted to the port (PostQueuedCompletionStatus), carrying the token.
  Error open_wake(Token wake_token);
  Error signal_wake();
  void wake_reported(const Event& /*event*/) {}

 private:
  HANDLE port_ = nullptr;
  IocpTables* tables_ = nullptr;
  Token wake_token_{};
};

}  // namespace emio
