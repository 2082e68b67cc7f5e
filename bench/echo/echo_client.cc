// SPDX-License-Identifier: MIT
// emio_bench_echo_client --port P --connections N --seconds S
// N connections to 127.0.0.1:P, each sending a 64-byte message and waiting for its echo before the next
// (one request in flight per connection), for S seconds, on plain epoll: the same load generator for every
// server mode. Prints  connections=N requests=R seconds=T
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "emio/port/clock.h"

namespace {

constexpr uint32_t message_bytes = 64;
constexpr uint32_t max_connections = 1024;

struct Connection {
  int fd = -1;
  uint32_t received = 0;  // bytes of the current echo
};

Connection connections[max_connections];

bool send_message(int fd) {
  static const char message[message_bytes] = "emio echo benchmark: 64 bytes per request, one in flight";
  return ::send(fd, message, message_bytes, MSG_NOSIGNAL) == static_cast<ssize_t>(message_bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: emio_bench_echo_client --port P --connections N --seconds S\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::strtoul(argv[2], nullptr, 10));
  const auto count = static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10));
  const double seconds = std::strtod(argv[6], nullptr);
  if (count == 0 || count > max_connections || seconds <= 0) return 2;

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const int poller = ::epoll_create1(EPOLL_CLOEXEC);
  for (uint32_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int yes = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
      std::perror("echo client: connect");
      return 1;
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = i;
    (void)::epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event);
    connections[i].fd = fd;
  }

  const uint64_t start_ns = emio::monotonic_now_ns();
  const uint64_t stop_ns = start_ns + static_cast<uint64_t>(seconds * 1e9);
  for (uint32_t i = 0; i < count; ++i) send_message(connections[i].fd);
  uint64_t requests = 0;
  uint32_t in_flight = count;
  epoll_event events[256];
  char buffer[message_bytes];
  while (in_flight > 0) {
    const int ready = ::epoll_wait(poller, events, 256, 1000);
    if (ready < 0 && errno != EINTR) return 1;
    const bool sending = emio::monotonic_now_ns() < stop_ns;
    for (int e = 0; e < ready; ++e) {
      Connection& connection = connections[events[e].data.u32];
      const ssize_t got = ::recv(connection.fd, buffer, message_bytes - connection.received, MSG_DONTWAIT);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        std::fprintf(stderr, "echo client: the server closed a connection\n");
        return 1;
      }
      connection.received += static_cast<uint32_t>(got);
      if (connection.received < message_bytes) continue;
      connection.received = 0;
      requests += 1;
      if (sending && send_message(connection.fd)) continue;
      in_flight -= 1;
    }
  }
  const double elapsed = static_cast<double>(emio::monotonic_now_ns() - start_ns) / 1e9;
  for (uint32_t i = 0; i < count; ++i) ::close(connections[i].fd);
  std::printf("connections=%u requests=%llu seconds=%.3f\n", count, static_cast<unsigned long long>(requests), elapsed);
  return 0;
}
