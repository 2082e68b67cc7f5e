// SPDX-License-Identifier: MIT
// Sockets and pipes as the driver wants every fd it watches: non-blocking, close-on-exec, and never
// raising SIGPIPE. Linux and the BSDs set the first two in the creating call (SOCK_NONBLOCK, accept4,
// pipe2); macOS has none of those, so fcntl follows the call there, and SIGPIPE is refused per socket
// (SO_NOSIGPIPE, as mio does) instead of per send (MSG_NOSIGNAL, which older macOS kernels lack).
// Each call is the system call's shape: the fd (or 0), or -1 with errno set.
#pragma once

#include <sys/socket.h>

namespace emio {

// The flag every send() passes: MSG_NOSIGNAL where the kernel has it, else 0 (SO_NOSIGPIPE is set on
// the socket when it is made).
#if defined(__APPLE__) || !defined(MSG_NOSIGNAL)
inline constexpr int send_flags_no_sigpipe = 0;
#else
inline constexpr int send_flags_no_sigpipe = MSG_NOSIGNAL;
#endif

int socket_nonblocking(int family, int type, int protocol = 0);
int socketpair_nonblocking(int family, int type, int ends[2]);
int accept_nonblocking(int listener, sockaddr* address, socklen_t* address_length);
int pipe_nonblocking(int ends[2]);

}  // namespace emio
