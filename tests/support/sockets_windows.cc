// SPDX-License-Identifier: MIT
// support/sockets.h on Windows: every pair is made of loopback sockets, the only sources AFD polls.
#include <cerrno>

#include "emio/port/socket.h"
#include "support/socket_calls.h"
#include "support/sockets.h"

#include <CppUTest/TestHarness.h>

namespace emio_test {

sockaddr_in bound_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  CHECK_EQUAL(0, ::getsockname(emio::socket_of_fd(fd), reinterpret_cast<sockaddr*>(&address), &length));
  return address;
}

emio::Fd bound_socket(int type) {
  emio::Fd fd(emio::socket_nonblocking(AF_INET, type, 0));
  CHECK(fd.valid());
  sockaddr_in address = ipv4_loopback_any_port();
  CHECK_EQUAL(0, ::bind(emio::socket_of_fd(fd.get()), reinterpret_cast<sockaddr*>(&address), sizeof address));
  return fd;
}

int connect_fd(int fd, const sockaddr_in& address) {
  return emio::connect_nonblocking(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
}

void pause_briefly() { ::Sleep(1); }

namespace {

// A close that resets the connection (SO_LINGER 0), as closing a pipe end ends it for the other end in
// both directions; a plain close sends a FIN, which only ends the peer's reading side.
void close_with_reset(int fd) {
  const linger abortive{1, 0};
  CHECK_EQUAL(0, ::setsockopt(emio::socket_of_fd(fd), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&abortive),
                              sizeof abortive));
}

}  // namespace

FdPair make_pipe() {
  FdPair pair = make_tcp_pair();
  close_with_reset(pair.first.get());
  close_with_reset(pair.second.get());
  return pair;
}

FdPair make_socketpair(int type) { return type == SOCK_DGRAM ? make_udp_pair() : make_tcp_pair(); }

long write_data(int fd, const void* data, size_t size) { return emio::send_some(fd, data, size); }

long read_data(int fd, void* buffer, size_t size) { return emio::recv_some(fd, buffer, size); }

emio::Fd loopback_listener(sockaddr_in& address) {
  emio::Fd listener = bound_socket(SOCK_STREAM);
  CHECK_EQUAL(0, ::listen(emio::socket_of_fd(listener.get()), 16));
  address = bound_address(listener.get());
  return listener;
}

emio::Fd connect_to_loopback(const sockaddr_in& address) {
  emio::Fd client(emio::fd_of_socket(::socket(AF_INET, SOCK_STREAM, 0)));
  CHECK_EQUAL(0,
              ::connect(emio::socket_of_fd(client.get()), reinterpret_cast<const sockaddr*>(&address), sizeof address));
  return client;
}

void close_raw(int fd) { (void)emio::close_socket(fd); }

int shut_down_writing(int fd) { return ::shutdown(emio::socket_of_fd(fd), SD_SEND); }

emio::Fd make_regular_file() {
  char directory[MAX_PATH];
  char path[MAX_PATH];
  CHECK(::GetTempPathA(sizeof directory, directory) != 0);
  CHECK(::GetTempFileNameA(directory, "emio", 0, path) != 0);
  HANDLE file = ::CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                              FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE, nullptr);
  CHECK(file != INVALID_HANDLE_VALUE);
  return emio::Fd(static_cast<int>(reinterpret_cast<intptr_t>(file)));
}

int settled_fd_count() {
  // The handles of the process: sockets, files, the port, the AFD handles.
  DWORD count = 0;
  CHECK(::GetProcessHandleCount(::GetCurrentProcess(), &count) != 0);
  return static_cast<int>(count);
}

}  // namespace emio_test
