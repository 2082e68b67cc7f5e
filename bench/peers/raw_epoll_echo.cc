// SPDX-License-Identifier: MIT
// emio_peer_raw_epoll PORT [--max-seconds S]: the echo server written directly on epoll, the floor the
// other peers are measured against. Level-triggered, every fd stays registered (no EPOLL_CTL per request:
// field-notes.md section 8), one recv and one send per request (readiness_echo.h). The contract is in
// peer_contract.h.
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>

#include "peer_contract.h"
#include "readiness_echo.h"

namespace {

using namespace emio_peers;

constexpr const char* name = "emio_peer_raw_epoll";
constexpr int events_per_wait = 256;

struct RawEpollServer {
  int poller = -1;
  PeerSockets sockets;
};

RawEpollServer server;
PendingEcho connections[connection_table_fds];  // indexed by fd; apart from `server`, so that it stays .bss

void watch(int fd, uint32_t events, int operation) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  (void)::epoll_ctl(server.poller, operation, fd, &event);
}

void close_connection(int fd) {
  (void)::epoll_ctl(server.poller, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
}

void accept_pending() {
  for (;;) {
    const int fd = accept_connection(server.sockets.listener_fd);
    if (fd == accept_nothing_pending) return;
    if (fd == accept_turned_away) continue;
    connections[fd].bytes = 0;
    watch(fd, EPOLLIN, EPOLL_CTL_ADD);
  }
}

void serve(int fd, uint32_t events) {
  PendingEcho& echo = connections[fd];
  const bool was_blocked = echo.bytes > 0;
  EchoStep step = EchoStep::echoed;
  if (was_blocked) {
    step = (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 ? flush_pending(fd, echo) : EchoStep::blocked;
  } else {
    step = read_and_echo(fd, echo);
  }
  if (step == EchoStep::closed) return close_connection(fd);
  const bool blocked = step == EchoStep::blocked;
  if (blocked != was_blocked) watch(fd, blocked ? EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
}

int run() {
  epoll_event events[events_per_wait];
  for (;;) {
    const int ready = ::epoll_wait(server.poller, events, events_per_wait, -1);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == server.sockets.stop_fd) return exit_code_for_stop(name, fd);
      if (fd == server.sockets.listener_fd) {
        accept_pending();
      } else {
        serve(fd, events[i].events);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (const int code = start_peer(name, argc, argv, &server.sockets); code >= 0) return code;
  server.poller = ::epoll_create1(EPOLL_CLOEXEC);
  if (server.poller < 0) {
    std::perror("emio_peer_raw_epoll: epoll_create1");
    return exit_failure;
  }
  watch(server.sockets.stop_fd, EPOLLIN, EPOLL_CTL_ADD);
  watch(server.sockets.listener_fd, EPOLLIN, EPOLL_CTL_ADD);
  return run();
}
