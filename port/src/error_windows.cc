// SPDX-License-Identifier: MIT
// Error on Windows: Win32 and Winsock codes, mapped to errno where the meaning is the same (as libuv's
// uv_translate_sys_error does), so that shared code tests ECONNRESET or EWOULDBLOCK whatever the system.
#include "error_windows.h"

// winsock2.h must come before windows.h, which would pull the old winsock.h in.
// clang-format off
#include <winsock2.h>
#include <windows.h>
// clang-format on

#include <cerrno>

#include "emio/port/error.h"

namespace emio {
namespace {

struct CodeMeaning {
  unsigned long code;
  int errno_value;
  // The C library's text, as glibc words it: Windows' strerror knows no value from 100 up (the
  // sockets' errno values), and FormatMessage would need a buffer, where description() promises
  // static text.
  const char* description;
};

// Every WSAE* code has its POSIX twin; mingw's <errno.h> defines them (EWOULDBLOCK is 140 there, apart
// from EAGAIN). The Win32 codes are those overlapped socket and handle IO completes with.
constexpr CodeMeaning errno_meanings[] = {
    {WSAEINTR, EINTR, "Interrupted system call"},
    {WSAEBADF, EBADF, "Bad file descriptor"},
    {WSAEACCES, EACCES, "Permission denied"},
    {WSAEFAULT, EFAULT, "Bad address"},
    {WSAEINVAL, EINVAL, "Invalid argument"},
    {WSAEMFILE, EMFILE, "Too many open files"},
    {WSAEWOULDBLOCK, EWOULDBLOCK, "Resource temporarily unavailable"},
    {WSAEINPROGRESS, EINPROGRESS, "Operation now in progress"},
    {WSAEALREADY, EALREADY, "Operation already in progress"},
    {WSAENOTSOCK, ENOTSOCK, "Socket operation on non-socket"},
    {WSAEDESTADDRREQ, EDESTADDRREQ, "Destination address required"},
    {WSAEMSGSIZE, EMSGSIZE, "Message too long"},
    {WSAEPROTOTYPE, EPROTOTYPE, "Protocol wrong type for socket"},
    {WSAENOPROTOOPT, ENOPROTOOPT, "Protocol not available"},
    {WSAEPROTONOSUPPORT, EPROTONOSUPPORT, "Protocol not supported"},
    {WSAEOPNOTSUPP, EOPNOTSUPP, "Operation not supported"},
    {WSAEAFNOSUPPORT, EAFNOSUPPORT, "Address family not supported by protocol"},
    {WSAEADDRINUSE, EADDRINUSE, "Address already in use"},
    {WSAEADDRNOTAVAIL, EADDRNOTAVAIL, "Cannot assign requested address"},
    {WSAENETDOWN, ENETDOWN, "Network is down"},
    {WSAENETUNREACH, ENETUNREACH, "Network is unreachable"},
    {WSAENETRESET, ENETRESET, "Network dropped connection on reset"},
    {WSAECONNABORTED, ECONNABORTED, "Software caused connection abort"},
    {WSAECONNRESET, ECONNRESET, "Connection reset by peer"},
    {WSAENOBUFS, ENOBUFS, "No buffer space available"},
    {WSAEISCONN, EISCONN, "Transport endpoint is already connected"},
    {WSAENOTCONN, ENOTCONN, "Transport endpoint is not connected"},
    {WSAETIMEDOUT, ETIMEDOUT, "Connection timed out"},
    {WSAECONNREFUSED, ECONNREFUSED, "Connection refused"},
    {WSAELOOP, ELOOP, "Too many levels of symbolic links"},
    {WSAENAMETOOLONG, ENAMETOOLONG, "File name too long"},
    {WSAEHOSTUNREACH, EHOSTUNREACH, "No route to host"},
    {WSAENOTEMPTY, ENOTEMPTY, "Directory not empty"},
    {WSA_NOT_ENOUGH_MEMORY, ENOMEM, "Cannot allocate memory"},
    {WSA_OPERATION_ABORTED, ECANCELED, "Operation canceled"},
    {ERROR_FILE_NOT_FOUND, ENOENT, "No such file or directory"},
    {ERROR_PATH_NOT_FOUND, ENOENT, "No such file or directory"},
    {ERROR_TOO_MANY_OPEN_FILES, EMFILE, "Too many open files"},
    {ERROR_ACCESS_DENIED, EACCES, "Permission denied"},
    {ERROR_INVALID_HANDLE, EBADF, "Bad file descriptor"},
    {ERROR_NOT_ENOUGH_MEMORY, ENOMEM, "Cannot allocate memory"},
    {ERROR_OUTOFMEMORY, ENOMEM, "Cannot allocate memory"},
    {ERROR_INVALID_PARAMETER, EINVAL, "Invalid argument"},
    {ERROR_BROKEN_PIPE, EPIPE, "Broken pipe"},
    {ERROR_NO_DATA, EPIPE, "Broken pipe"},  // writing to a pipe whose reader closed
    {ERROR_NETNAME_DELETED, ECONNRESET,
     "Connection reset by peer"},  // an overlapped recv on a connection the peer reset
    {ERROR_CONNECTION_REFUSED, ECONNREFUSED, "Connection refused"},  // ConnectEx
    {ERROR_CONNECTION_ABORTED, ECONNABORTED, "Software caused connection abort"},
    {ERROR_NETWORK_UNREACHABLE, ENETUNREACH, "Network is unreachable"},
    {ERROR_HOST_UNREACHABLE, EHOSTUNREACH, "No route to host"},
    {ERROR_SEM_TIMEOUT, ETIMEDOUT, "Connection timed out"},      // a connect that timed out, completed through the port
    {ERROR_OPERATION_ABORTED, ECANCELED, "Operation canceled"},  // CancelIoEx, or the socket closed under the operation
};

struct CodeName {
  unsigned long code;
  const char* name;
  const char* description;
};

// The codes kept as Win32 codes that a completion port user meets.
constexpr CodeName kept_codes[] = {
    {ERROR_IO_PENDING, "ERROR_IO_PENDING", "an overlapped operation is under way"},
    {ERROR_IO_INCOMPLETE, "ERROR_IO_INCOMPLETE", "an overlapped operation has not completed yet"},
    {ERROR_NOT_FOUND, "ERROR_NOT_FOUND", "nothing to cancel: the operation had completed"},
    {ERROR_ABANDONED_WAIT_0, "ERROR_ABANDONED_WAIT_0", "the completion port was closed during the wait"},
    {WAIT_TIMEOUT, "WAIT_TIMEOUT", "the wait timed out"},
    {ERROR_PORT_UNREACHABLE, "ERROR_PORT_UNREACHABLE", "no one listens on the port (ICMP port unreachable)"},
    {ERROR_MORE_DATA, "ERROR_MORE_DATA", "the datagram was larger than the buffer: the rest was dropped"},
    {ERROR_INVALID_FUNCTION, "ERROR_INVALID_FUNCTION", "the device does not support this operation"},
    {ERROR_PIPE_NOT_CONNECTED, "ERROR_PIPE_NOT_CONNECTED", "no process is on the other end of the pipe"},
};

const CodeName* kept_code(unsigned long code) {
  for (const CodeName& entry : kept_codes) {
    if (entry.code == code) return &entry;
  }
  return nullptr;
}

}  // namespace

Error Error::from_windows(unsigned long code) {
  if (code == 0) return Error{};
  for (const CodeMeaning& meaning : errno_meanings) {
    if (meaning.code == code) return from_errno(meaning.errno_value);
  }
  // Win32 codes are 16-bit (the facility bits appear only in HRESULTs): they fit above the base.
  return Error(windows_code_base + static_cast<int32_t>(code & 0xffffu));
}

Error Error::last_windows_error() { return from_windows(::GetLastError()); }
Error Error::last_socket_error() { return from_windows(static_cast<unsigned long>(::WSAGetLastError())); }

const char* windows_code_name(unsigned long code) {
  const CodeName* entry = kept_code(code);
  return entry != nullptr ? entry->name : "Win32 error (unnamed)";
}

const char* windows_errno_description(int errno_value) {
  for (const CodeMeaning& meaning : errno_meanings) {
    if (meaning.errno_value == errno_value) return meaning.description;
  }
  return nullptr;
}

const char* windows_code_description(unsigned long code) {
  const CodeName* entry = kept_code(code);
  return entry != nullptr ? entry->description : "a Windows error with no errno meaning";
}

}  // namespace emio
