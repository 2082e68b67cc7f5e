// SPDX-License-Identifier: MIT
// Real, non-blocking fd pairs for the tests: pipes, socketpairs, TCP and UDP over loopback, and the
// calls the tests make on them. Windows has neither pipes nor socketpairs to poll: there a pipe and a
// stream socketpair are loopback TCP pairs, and a datagram socketpair a UDP pair (sockets_windows.cc).
#pragma once

#if !defined(_WIN32)
#include <netinet/in.h>
#endif

#include <cstddef>

#include "emio/port/fd.h"
#include "emio/port/socket.h"

namespace emio_test {

struct FdPair {
  emio::Fd first;   // pipe: read end; sockets: one end
  emio::Fd second;  // pipe: write end; sockets: the other end
};

FdPair make_pipe();  // Windows: a TCP pair whose ends close with a reset, as a pipe end's close is final
FdPair make_socketpair(int type);
FdPair make_tcp_pair();  // first: the accepted server side, second: the client
FdPair make_udp_pair();  // both bound on 127.0.0.1 and connected to each other

// Writes `size` bytes of filler; returns what write() returned.
long write_bytes(int fd, size_t size);
// Reads until EAGAIN (or end of stream); returns the bytes read.
size_t drain(int fd);
// One write() and one read(): what the system call returned.
long write_data(int fd, const void* data, size_t size);
long read_data(int fd, void* buffer, size_t size);
// A listening TCP socket on 127.0.0.1; `address` gets its port.
emio::Fd loopback_listener(sockaddr_in& address);
// A blocking connect to `address` from a new socket.
emio::Fd connect_to_loopback(const sockaddr_in& address);
// Closes a raw fd that no Fd owns.
void close_raw(int fd);
// shutdown(SHUT_WR): the peer sees the end of the stream.
int shut_down_writing(int fd);
// A regular file, already unlinked (deleted on close on Windows): what readiness pollers refuse.
emio::Fd make_regular_file();

// How many descriptors this process has open, once the count stopped moving: libkqueue closes a closed
// kqueue's own fds later, on its monitoring thread (a BSD kqueue is one fd, gone at close()). Waits
// until two looks 50 ms apart agree, at most 2 s.
int settled_fd_count();

}  // namespace emio_test
