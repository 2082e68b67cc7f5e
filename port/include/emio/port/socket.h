// SPDX-License-Identifier: MIT
// Sockets and pipes as the driver wants every fd it watches: non-blocking, close-on-exec, and never
// raising SIGPIPE. Linux and the BSDs set the first two in the creating call (SOCK_NONBLOCK, accept4,
// pipe2); macOS has none of those, so fcntl follows the call there, and SIGPIPE is refused per socket
// (SO_NOSIGPIPE, as mio does) instead of per send (MSG_NOSIGNAL, which older macOS kernels lack).
// Each call is the system call's shape: the fd (or 0), or -1 with errno set.
// On Windows a socket is a handle that fits an int (docs/design.md, "Windows"); errno is set to the
// errno twin of the Winsock error (Error::from_windows), and there are no pipes to poll.
#pragma once

#if defined(_WIN32)
// winsock2.h before windows.h, which would pull the old winsock.h in; ws2tcpip.h has socklen_t.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
// clang-format on
#else
#include <sys/socket.h>
#endif

#include <cstddef>
#include <cstdint>

#include "emio/port/error.h"

namespace emio {

// The flag every send() passes: MSG_NOSIGNAL where the kernel has it, else 0 (SO_NOSIGPIPE is set on
// the socket when it is made).
#if defined(__APPLE__) || !defined(MSG_NOSIGNAL)  // Windows has no SIGPIPE at all
inline constexpr int send_flags_no_sigpipe = 0;
#else
inline constexpr int send_flags_no_sigpipe = MSG_NOSIGNAL;
#endif

int socket_nonblocking(int family, int type, int protocol = 0);
int socketpair_nonblocking(int family, int type, int ends[2]);
int accept_nonblocking(int listener, sockaddr* address, socklen_t* address_length);

#if defined(_WIN32)
// A SOCKET as the int the driver carries: 64-bit Windows keeps handles to 32 significant bits, so it is
// truncated on the way in and sign-extended on the way out (Microsoft's interoperability rule).
inline int fd_of_socket(SOCKET socket) { return static_cast<int>(static_cast<intptr_t>(socket)); }
inline SOCKET socket_of_fd(int fd) { return static_cast<SOCKET>(static_cast<intptr_t>(fd)); }
// The calls POSIX code makes on sockets, in the same shape (bytes, or -1 with errno set): Windows'
// recv/send take char buffers and report through WSAGetLastError, and a socket is closed by closesocket.
long recv_some(int fd, void* buffer, size_t length);
long send_some(int fd, const void* data, size_t length);
// EINPROGRESS where Winsock says WSAEWOULDBLOCK for a connect under way.
int connect_nonblocking(int fd, const sockaddr* address, socklen_t address_length);
int close_socket(int fd);
// Winsock needs WSAStartup before any call: made once per process (the first call; later ones return
// its answer) by socket_nonblocking and by the IOCP backend's open.
Error start_winsock();
#else
int pipe_nonblocking(int ends[2]);
#endif

}  // namespace emio
