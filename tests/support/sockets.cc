// SPDX-License-Identifier: MIT
#include "support/sockets.h"
#include "support/socket_calls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emio/port/socket.h"

#include <CppUTest/TestHarness.h>

namespace emio_test {

sockaddr_in bound_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  CHECK_EQUAL(0, ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length));
  return address;
}

emio::Fd bound_socket(int type) {
  emio::Fd fd(emio::socket_nonblocking(AF_INET, type));
  CHECK(fd.valid());
  sockaddr_in address = ipv4_loopback_any_port();
  CHECK_EQUAL(0, ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address));
  return fd;
}

int connect_fd(int fd, const sockaddr_in& address) {
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
}

void pause_briefly() { ::usleep(100); }

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
