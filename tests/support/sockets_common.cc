// SPDX-License-Identifier: MIT
// The parts of support/sockets.h that read the same on every system, from support/socket_calls.h.
#if !defined(_WIN32)
#include <arpa/inet.h>  // htonl; Winsock's comes with port/socket.h
#endif

#include <cerrno>

#include "support/socket_calls.h"

#include <CppUTest/TestHarness.h>

namespace emio_test {

sockaddr_in ipv4_loopback_any_port() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

FdPair make_tcp_pair() {
  sockaddr_in address{};
  emio::Fd listener = loopback_listener(address);
  emio::Fd client(emio::socket_nonblocking(AF_INET, SOCK_STREAM, 0));
  const int connected = connect_fd(client.get(), address);
  CHECK(connected == 0 || errno == EINPROGRESS);
  // The listener is non-blocking, but loopback connects complete in the kernel at once (under wine, in
  // wineserver soon after): poll briefly.
  int accepted = -1;
  for (int attempt = 0; attempt < 10000 && accepted < 0; ++attempt) {
    accepted = emio::accept_nonblocking(listener.get(), nullptr, nullptr);
    if (accepted < 0) pause_briefly();
  }
  CHECK(accepted >= 0);
  return FdPair{emio::Fd(accepted), std::move(client)};
}

FdPair make_udp_pair() {
  emio::Fd first = bound_socket(SOCK_DGRAM);
  emio::Fd second = bound_socket(SOCK_DGRAM);
  CHECK_EQUAL(0, connect_fd(first.get(), bound_address(second.get())));
  CHECK_EQUAL(0, connect_fd(second.get(), bound_address(first.get())));
  return FdPair{std::move(first), std::move(second)};
}

long write_bytes(int fd, size_t size) {
  char buffer[4096] = {};
  return write_data(fd, buffer, size < sizeof buffer ? size : sizeof buffer);
}

size_t drain(int fd) {
  char buffer[4096];
  size_t total = 0;
  for (;;) {
    const long got = read_data(fd, buffer, sizeof buffer);
    if (got <= 0) return total;
    total += static_cast<size_t>(got);
  }
}

}  // namespace emio_test
