// SPDX-License-Identifier: MIT
// The few socket calls whose spelling differs between POSIX and Winsock, for support/sockets_common.cc,
// which builds every pair from them. Defined in support/sockets.cc and support/sockets_windows.cc.
#pragma once

#include "support/sockets.h"

namespace emio_test {

// 127.0.0.1, any port (support/sockets_common.cc).
sockaddr_in ipv4_loopback_any_port();
// A non-blocking socket bound on 127.0.0.1, any port.
emio::Fd bound_socket(int type);
sockaddr_in bound_address(int fd);
// connect()'s shape: 0, or -1 with errno set (EINPROGRESS for a connect under way).
int connect_fd(int fd, const sockaddr_in& address);
// A short pause while the kernel completes a loopback connect.
void pause_briefly();

}  // namespace emio_test
