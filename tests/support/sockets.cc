// SPDX-License-Identifier: MIT
#include "support/sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emio/port/socket.h"

#include <CppUTest/TestHarness.h>

namespace emio_test {
namespace {

sockaddr_in loopback_any_port() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  return address;
}

sockaddr_in bound_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  CHECK_EQUAL(0, ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length));
  return address;
}

emio::Fd bound_socket(int type) {
  emio::Fd fd(emio::socket_nonblocking(AF_INET, type));
  CHECK(fd.valid());
  sockaddr_in address = loopback_any_port();
  CHECK_EQUAL(0, ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address));
  return fd;
}

}  // namespace

FdPair make_pipe() {
  int ends[2];
  CHECK_EQUAL(0, emio::pipe_nonblocking(ends));
  return FdPair{emio::Fd(ends[0]), emio::Fd(ends[1])};
}

FdPair make_socketpair(int type) {
  int ends[2];
  CHECK_EQUAL(0, emio::socketpair_nonblocking(AF_UNIX, type, ends));
  return FdPair{emio::Fd(ends[0]), emio::Fd(ends[1])};
}

FdPair make_tcp_pair() {
  emio::Fd listener = bound_socket(SOCK_STREAM);
  CHECK_EQUAL(0, ::listen(listener.get(), 4));
  sockaddr_in address = bound_address(listener.get());
  emio::Fd client(emio::socket_nonblocking(AF_INET, SOCK_STREAM));
  const int connected = ::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  CHECK(connected == 0 || errno == EINPROGRESS);
  // The listener is blocking-free but loopback connects complete in the kernel at once; poll briefly.
  int accepted = -1;
  for (int attempt = 0; attempt < 10000 && accepted < 0; ++attempt) {
    accepted = emio::accept_nonblocking(listener.get(), nullptr, nullptr);
    if (accepted < 0) ::usleep(100);
  }
  CHECK(accepted >= 0);
  return FdPair{emio::Fd(accepted), std::move(client)};
}

FdPair make_udp_pair() {
  emio::Fd first = bound_socket(SOCK_DGRAM);
  emio::Fd second = bound_socket(SOCK_DGRAM);
  sockaddr_in first_address = bound_address(first.get());
  sockaddr_in second_address = bound_address(second.get());
  CHECK_EQUAL(0, ::connect(first.get(), reinterpret_cast<sockaddr*>(&second_address), sizeof second_address));
  CHECK_EQUAL(0, ::connect(second.get(), reinterpret_cast<sockaddr*>(&first_address), sizeof first_address));
  return FdPair{std::move(first), std::move(second)};
}

long write_bytes(int fd, size_t size) {
  char buffer[4096] = {};
  return static_cast<long>(::write(fd, buffer, size < sizeof buffer ? size : sizeof buffer));
}

long write_data(int fd, const void* data, size_t size) { return static_cast<long>(::write(fd, data, size)); }

long read_data(int fd, void* buffer, size_t size) { return static_cast<long>(::read(fd, buffer, size)); }

emio::Fd loopback_listener(sockaddr_in& address) {
  emio::Fd listener = bound_socket(SOCK_STREAM);
  CHECK_EQUAL(0, ::listen(listener.get(), 16));
  address = bound_address(listener.get());
  return listener;
}

emio::Fd connect_to_loopback(const sockaddr_in& address) {
  emio::Fd client(::socket(AF_INET, SOCK_STREAM, 0));
  CHECK_EQUAL(0, ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address));
  return client;
}

void close_raw(int fd) { (void)::close(fd); }

int shut_down_writing(int fd) { return ::shutdown(fd, SHUT_WR); }

emio::Fd make_regular_file() {
  char path[] = "/tmp/emio-registration-XXXXXX";
  emio::Fd file(::mkstemp(path));
  ::unlink(path);
  return file;
}

size_t drain(int fd) {
  char buffer[4096];
  size_t total = 0;
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) return total;
    total += static_cast<size_t>(got);
  }
}

int settled_fd_count() {
  const auto count_now = [] {
    int count = 0;
    for (int fd = 0; fd < 4096; ++fd) count += ::fcntl(fd, F_GETFD) >= 0 ? 1 : 0;
    return count;
  };
  int previous = count_now();
  for (int look = 0; look < 40; ++look) {
    ::usleep(50000);
    const int now = count_now();
    if (now == previous) return now;
    previous = now;
  }
  return previous;
}

}  // namespace emio_test
