// SPDX-License-Identifier: MIT
// The IOCP backend (Windows): readiness through IOCTL_AFD_POLL on a completion port, the way wepoll and
// mio do it, with epoll's edge-triggered contract emulated on top, and native completion operations
// (overlapped WSARecv, WSASend, AcceptEx, ConnectEx, ReadFile, WriteFile, CancelIoEx; iocp_operations.cc).
// One of the backend files; each has the same shape (see backend.h), and exactly one is compiled into a
// build. docs/design.md, "Windows (IOCP)", says what differs from epoll.
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
#include "emio/driver/operation.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

struct IocpTables;          // the AFD handle pool, the per-socket poll state and the update queue (iocp_backend.cc)
struct IocpOperationTable;  // the operations' OVERLAPPED records and Winsock's extensions (iocp_operations.cc)
struct IocpOperationRecord;

// wait() rewrites each completion entry it keeps into an event: the token in lpCompletionKey (a
// ULONG_PTR), the Ready bits in dwNumberOfBytesTransferred.
static_assert(sizeof(ULONG_PTR) >= sizeof(uint64_t), "the IOCP backend keeps the 64-bit token in the completion key");

class IocpBackend {
 public:
  using Event = OVERLAPPED_ENTRY;
  static constexpr const char* name = "iocp";
  // Shutdown waits this long for every operation's completion, then says loudly that it could not (the
  // records must then stay alive: the system may still write into them).
  static constexpr uint64_t shutdown_deadline_ns = 10'000'000'000u;

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

  // --- Completion operations, native (iocp_operations.cc; the driver thread only) ---
  // Takes one OVERLAPPED record per operation the ledger may hold, at init (pages, not the heap), and
  // looks Winsock's AcceptEx, ConnectEx and GetAcceptExSockaddrs up.
  Error open_operations(OperationLedger* ledger, uint32_t operation_capacity);
  // Associates `fd` with the port, for good (Windows cannot undo it), so that its overlapped operations
  // complete there. Attaching it again is no error; a socket first attached to another driver's port
  // completes its operations on that port, which leaves them alone (and logs it): they stay in flight
  // here until shutdown gives up on them.
  Error associate(int fd);
  // The kinds carried out by an overlapped call, and a cancel of one in flight; the driver's readiness
  // engine runs the others (timeout, close, the multishot kinds).
  static bool runs_natively(const Operation& op);
  // Starts the overlapped call. A failure the call reports at once still completes in a later wait(),
  // through a completion posted to the port: never inside submit.
  Error submit(Operation& op);
  // Driver shutdown: CancelIoEx for every operation in flight, then waits until each has completed.
  void cancel_operations();

 private:
  // Operation completions carry this key (a socket is associated under it): a tag no arena token has.
  static constexpr ULONG_PTR operation_key = static_cast<ULONG_PTR>(Token::make(0, 0, 0xFE).bits());
  static bool is_operation_packet(const Event& event) {
    return event.lpCompletionKey == operation_key && event.lpOverlapped != nullptr;
  }
  // Completes the operations among the entries wait() took, through a cursor that a nested drain (a
  // completion that shuts the driver down) continues; each entry is marked done (lpOverlapped cleared).
  void complete_operations(std::span<Event> entries);
  void continue_batch();
  void complete_operation(const Event& entry);
  Error start_cancel(Operation& cancel);
  // Completes the record's operation with `result` in a later wait(), through a packet posted to the port.
  Error post_result(IocpOperationRecord& record, int32_t result);
  void release(IocpOperationRecord& record);
  // Turns the entries a GetQueuedCompletionStatusEx took into events, in place: completes operations,
  // keeps the readiness that is news and the posted events; returns how many are kept.
  uint32_t take_events(std::span<Event> entries);
  void close_operations();

  HANDLE port_ = nullptr;
  IocpTables* tables_ = nullptr;
  IocpOperationTable* operations_ = nullptr;
  Token wake_token_{};
};

}  // namespace emio
