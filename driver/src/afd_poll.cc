// SPDX-License-Identifier: MIT
#include "afd_poll.h"

#include <mswsock.h>

#include <cerrno>

namespace emio {
namespace {

constexpr ULONG ioctl_afd_poll = 0x00012024;

// Not in mingw's headers: ntdll exports it (Windows Vista and later), wepoll declares it the same way.
extern "C" NTSTATUS NTAPI NtCancelIoFileEx(HANDLE file, PIO_STATUS_BLOCK request, PIO_STATUS_BLOCK result);
// RtlNtStatusToDosError is in winternl.h but ntdll's import of it is what we link.
Error from_status(NTSTATUS status) { return Error::from_windows(::RtlNtStatusToDosError(status)); }

}  // namespace

Error AfdDevice::open(HANDLE completion_port, ULONG_PTR completion_key) {
  // Any name under \Device\Afd opens the driver; the suffix only labels the handle in a debugger.
  wchar_t name[] = L"\\Device\\Afd\\Emio";
  UNICODE_STRING device_name{sizeof name - sizeof name[0], sizeof name, name};
  OBJECT_ATTRIBUTES attributes{};
  InitializeObjectAttributes(&attributes, &device_name, 0, nullptr, nullptr);
  IO_STATUS_BLOCK status_block{};
  HANDLE handle = nullptr;
  const NTSTATUS status = ::NtCreateFile(&handle, SYNCHRONIZE, &attributes, &status_block, nullptr, 0,
                                         FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, nullptr, 0);
  if (!NT_SUCCESS(status)) return from_status(status);
  if (::CreateIoCompletionPort(handle, completion_port, completion_key, 0) == nullptr ||
      // A completed poll must not also signal the handle: nobody waits on it, and it costs a kernel call.
      ::SetFileCompletionNotificationModes(handle, FILE_SKIP_SET_EVENT_ON_HANDLE) == 0) {
    const Error error = Error::last_windows_error();
    ::CloseHandle(handle);
    return error;
  }
  handle_ = handle;
  return Error{};
}

void AfdDevice::close() {
  if (handle_ != nullptr) ::CloseHandle(handle_);
  handle_ = nullptr;
}

Error AfdDevice::start_poll(SOCKET base_socket, ULONG events, AfdPollRequest& request) {
  request.info.timeout.QuadPart = INT64_MAX;  // no timeout: the port's wait has its own
  request.info.handle_count = 1;
  request.info.exclusive = FALSE;
  // A SOCKET is a kernel handle's value: AFD takes it as the HANDLE it is.
  request.info.handles[0] = {reinterpret_cast<HANDLE>(base_socket), events, 0};  // NOLINT(performance-no-int-to-ptr)
  request.status_block.Status = STATUS_PENDING;
  // The APC context is what the completion entry carries as lpOverlapped: the status block itself.
  const NTSTATUS status =
      ::NtDeviceIoControlFile(handle_, nullptr, nullptr, &request.status_block, &request.status_block, ioctl_afd_poll,
                              &request.info, sizeof request.info, &request.info, sizeof request.info);
  if (status == STATUS_SUCCESS || status == STATUS_PENDING) return Error{};
  return from_status(status);
}

Error AfdDevice::cancel_poll(AfdPollRequest& request) {
  if (request.status_block.Status != STATUS_PENDING) return Error::from_errno(ENOENT);
  IO_STATUS_BLOCK cancel_status{};
  const NTSTATUS status = NtCancelIoFileEx(handle_, &request.status_block, &cancel_status);
  if (status == STATUS_SUCCESS) return Error{};
  if (status == STATUS_NOT_FOUND) return Error::from_errno(ENOENT);  // completed meanwhile
  return from_status(status);
}

Result<SOCKET> base_socket_of(SOCKET socket) {
  SOCKET base = INVALID_SOCKET;
  DWORD bytes = 0;
  if (::WSAIoctl(socket, SIO_BASE_HANDLE, nullptr, 0, &base, sizeof base, &bytes, nullptr, nullptr) == SOCKET_ERROR) {
    return Error::last_socket_error();
  }
  return base;
}

}  // namespace emio
