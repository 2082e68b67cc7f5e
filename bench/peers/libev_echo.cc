// SPDX-License-Identifier: MIT
// emio_peer_libev PORT [--max-seconds S]: the echo server on libev (Debian's libev 4.33), the epoll
// backend chosen explicitly, one ev_io watcher per connection switched between EV_READ and EV_WRITE, the
// same echo step as raw epoll (readiness_echo.h): what differs is libev's loop. The contract is in
// peer_contract.h.
#include <ev.h>
#include <unistd.h>

#include <cstdio>

#include "peer_contract.h"
#include "readiness_echo.h"

namespace {

using namespace emio_peers;

constexpr const char* name = "emio_peer_libev";

struct LibevConnection {
  ev_io watcher;
  PendingEcho echo;
};

struct LibevServer {
  struct ev_loop* loop = nullptr;
  PeerSockets sockets;
  ev_io listener_watcher;
  ev_io stop_watcher;
  int exit_code = exit_ok;
};

LibevServer server;
// Indexed by fd; apart from `server` and without initialisers, so that it stays .bss (readiness_echo.h).
LibevConnection connections[connection_table_fds];

void close_connection(LibevConnection& connection) {
  ev_io_stop(server.loop, &connection.watcher);
  ::close(connection.watcher.fd);
}

void rearm(LibevConnection& connection, int events) {
  ev_io_stop(server.loop, &connection.watcher);
  ev_io_set(&connection.watcher, connection.watcher.fd, events);
  ev_io_start(server.loop, &connection.watcher);
}

void on_connection(struct ev_loop*, ev_io* watcher, int events) {
  // The watcher is the first member: libev hands back the address it was started with.
  LibevConnection& connection = *reinterpret_cast<LibevConnection*>(watcher);
  const bool was_blocked = (watcher->events & EV_WRITE) != 0;
  EchoStep step = EchoStep::echoed;
  if (was_blocked) {
    step = (events & EV_WRITE) != 0 ? flush_pending(watcher->fd, connection.echo) : EchoStep::blocked;
  } else {
    step = read_and_echo(watcher->fd, connection.echo);
  }
  if (step == EchoStep::closed) return close_connection(connection);
  const bool blocked = step == EchoStep::blocked;
  if (blocked != was_blocked) rearm(connection, blocked ? EV_WRITE : EV_READ);
}

void on_listener(struct ev_loop* loop, ev_io* watcher, int) {
  for (;;) {
    const int fd = accept_connection(watcher->fd);
    if (fd == accept_nothing_pending) return;
    if (fd == accept_turned_away) continue;
    LibevConnection& connection = connections[fd];
    connection.echo.bytes = 0;
    ev_io_init(&connection.watcher, on_connection, fd, EV_READ);
    ev_io_start(loop, &connection.watcher);
  }
}

void on_stop(struct ev_loop* loop, ev_io* watcher, int) {
  server.exit_code = exit_code_for_stop(name, watcher->fd);
  ev_break(loop, EVBREAK_ALL);
}

}  // namespace

int main(int argc, char** argv) {
  if (const int code = start_peer(name, argc, argv, &server.sockets); code >= 0) return code;
  server.loop = ev_default_loop(EVBACKEND_EPOLL);
  if (server.loop == nullptr) {
    std::fprintf(stderr, "%s: libev has no epoll backend here\n", name);
    return exit_failure;
  }
  ev_io_init(&server.stop_watcher, on_stop, server.sockets.stop_fd, EV_READ);
  ev_io_start(server.loop, &server.stop_watcher);
  ev_io_init(&server.listener_watcher, on_listener, server.sockets.listener_fd, EV_READ);
  ev_io_start(server.loop, &server.listener_watcher);
  ev_run(server.loop, 0);
  return server.exit_code;
}
