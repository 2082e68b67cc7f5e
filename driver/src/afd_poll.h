// SPDX-License-Identifier: MIT
// Readiness on Windows, the way wepoll and mio get it: IOCTL_AFD_POLL sent to a handle on \Device\Afd
// (the driver under Winsock) that is associated with the completion port. A poll names one socket and
// the events wanted; it completes through the port, once, when one of them holds, and must then be sent
// again (one-shot, as io_uring's single-shot poll). One AFD handle serves many sockets: the backend keeps
// a small fixed pool. The structures are the undocumented ones every such library uses (ReactOS names).
// Windows only; inside the IOCP backend.
#pragma once

// The order matters: winsock2.h before windows.h (which would pull the old winsock.h in); windows.h
// defines a few STATUS_ codes itself, ntstatus.h all of them: WIN32_NO_STATUS keeps the first set out.
// clang-format off
#include <winsock2.h>
#define WIN32_NO_STATUS
#include <windows.h>
#undef WIN32_NO_STATUS
#include <ntstatus.h>
#include <winternl.h>
// clang-format on

#include <cstdint>

#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

// AFD_POLL_* event bits (ReactOS afd/shared.h).
enum AfdEvent : ULONG {
  afd_poll_receive = 0x0001,
  afd_poll_receive_expedited = 0x0002,
  afd_poll_send = 0x0004,
  afd_poll_disconnect = 0x0008,   // the peer shut its sending side down (FIN)
  afd_poll_abort = 0x0010,        // the connection was reset
  afd_poll_local_close = 0x0020,  // this socket was closed: the poll ends for good
  afd_poll_accept = 0x0080,
  afd_poll_connect_fail = 0x0100,
};

struct AfdPollHandleInfo {
  HANDLE handle;
  ULONG events;
  NTSTATUS status;
};

struct AfdPollInfo {
  LARGE_INTEGER timeout;
  ULONG handle_count;
  ULONG exclusive;
  AfdPollHandleInfo handles[1];
};

// One socket's poll in flight. The completion entry's lpOverlapped points at `status_block`, which is
// how the backend finds the socket again: the record must stay put until the poll completed (also after
// a cancel, whose completion still arrives).
struct AfdPollRequest {
  IO_STATUS_BLOCK status_block;
  AfdPollInfo info;
};

class AfdDevice {
 public:
  AfdDevice() = default;
  AfdDevice(const AfdDevice&) = delete;
  AfdDevice& operator=(const AfdDevice&) = delete;
  ~AfdDevice() { close(); }

  // Opens a \Device\Afd handle and associates it with `completion_port` under `completion_key`.
  Error open(HANDLE completion_port, ULONG_PTR completion_key);
  void close();
  bool is_open() const { return handle_ != nullptr; }

  // Sends the poll: `base_socket` (see base_socket_of) for `events` (AfdEvent bits). Error{} when it is
  // pending or already complete: either way its completion comes through the port.
  Error start_poll(SOCKET base_socket, ULONG events, AfdPollRequest& request);
  // Asks the kernel to end a pending poll early; its completion still comes, with STATUS_CANCELLED.
  // ENOENT (ERROR_NOT_FOUND) when it had completed already: that completion is on its way.
  Error cancel_poll(AfdPollRequest& request);

 private:
  HANDLE handle_ = nullptr;
};

// The socket the AFD driver knows: a layered service provider may wrap it, and polls must name the base.
Result<SOCKET> base_socket_of(SOCKET socket);

// What a completed poll reports: AfdEvent bits, or 0 after a cancel or a failure of the poll itself.
inline ULONG afd_poll_events(const AfdPollRequest& request) {
  if (!NT_SUCCESS(request.status_block.Status) || request.info.handle_count < 1) return 0;
  return request.info.handles[0].events;
}

}  // namespace emio
