// SPDX-License-Identifier: MIT
// Real, non-blocking fd pairs for the tests: pipes, socketpairs, TCP and UDP over loopback.
#pragma once

#include <cstddef>

#include "emio/port/fd.h"

namespace emio_test {

struct FdPair {
  emio::Fd first;   // pipe: read end; sockets: one end
  emio::Fd second;  // pipe: write end; sockets: the other end
};

FdPair make_pipe();
FdPair make_socketpair(int type);
FdPair make_tcp_pair();  // first: the accepted server side, second: the client
FdPair make_udp_pair();  // both bound on 127.0.0.1 and connected to each other

// Writes `size` bytes of filler; returns what write() returned.
long write_bytes(int fd, size_t size);
// Reads until EAGAIN (or end of stream); returns the bytes read.
size_t drain(int fd);

// How many descriptors this process has open, once the count stopped moving: libkqueue closes a closed
// kqueue's own fds later, on its monitoring thread (a BSD kqueue is one fd, gone at close()). Waits
// until two looks 50 ms apart agree, at most 2 s.
int settled_fd_count();

}  // namespace emio_test
