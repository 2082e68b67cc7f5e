// SPDX-License-Identifier: MIT
// The echo server on readiness: every socket registered once (edge-triggered), served from its waker
// until EAGAIN or a short read, the way a readiness runtime polls its tasks.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "echo_server.h"

namespace emio_bench {
namespace {

struct Connection {
  const ServerSetup* setup = nullptr;
  int fd = -1;
  emio::Registration registration{};
  char buffer[4096];
};

Connection connections[max_connections];
const ServerSetup* listener_setup = nullptr;
emio::Registration listener_registration{};

void close_connection(Connection& connection) {
  (void)connection.setup->driver->handle().deregister(connection.registration);
  ::close(connection.fd);
  connection.fd = -1;
  connection.setup->counters->closed += 1;
}

bool echo(Connection& connection, size_t bytes) {
  size_t sent = 0;
  while (sent < bytes) {
    const ssize_t wrote = ::send(connection.fd, connection.buffer + sent, bytes - sent, MSG_NOSIGNAL);
    if (wrote < 0 && errno != EINTR && errno != EAGAIN) return false;
    if (wrote > 0) sent += static_cast<size_t>(wrote);
  }
  connection.setup->counters->bytes_echoed += bytes;
  return true;
}

void serve(void* context) {
  Connection& connection = *static_cast<Connection*>(context);
  emio::ScheduledIo& io = *connection.registration.io;
  for (;;) {
    const emio::ReadyEvent seen = io.readiness(emio::Direction::read);
    const ssize_t got = ::recv(connection.fd, connection.buffer, sizeof connection.buffer, 0);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return close_connection(connection);
    if (got > 0 && !echo(connection, static_cast<size_t>(got))) return close_connection(connection);
    // A short read emptied the socket: an edge will announce the next bytes, so no EAGAIN read is needed.
    const bool drained = got < 0 ? errno == EAGAIN : static_cast<size_t>(got) < sizeof connection.buffer;
    if (!drained) continue;
    io.clear_readiness(seen);
    const emio::ReadyEvent now = io.poll_ready(emio::Direction::read, {serve, &connection});
    if (!now.is_ready() || now.shut_down) return;
  }
}

void accept_all(void* /*context*/) {
  const ServerSetup& setup = *listener_setup;
  emio::ScheduledIo& io = *listener_registration.io;
  for (;;) {
    const emio::ReadyEvent seen = io.readiness(emio::Direction::read);
    const int fd = ::accept4(setup.listener_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 && setup.counters->accepted < setup.connections) {
      Connection& connection = connections[setup.counters->accepted++];
      connection.setup = &setup;
      connection.fd = fd;
      emio::Result<emio::Registration> added = setup.driver->handle().add_source(fd, emio::Interest::readable);
      if (!added.ok()) {
        ::close(fd);
        setup.counters->closed += 1;
        continue;
      }
      connection.registration = added.value();
      serve(&connection);
      continue;
    }
    if (fd >= 0) ::close(fd);  // more clients than announced
    if (fd < 0 && errno != EAGAIN && errno != EINTR) return;
    io.clear_readiness(seen);
    const emio::ReadyEvent now = io.poll_ready(emio::Direction::read, {accept_all, nullptr});
    if (!now.is_ready() || now.shut_down) return;
  }
}

}  // namespace

void run_readiness_server(const ServerSetup& setup) {
  listener_setup = &setup;
  emio::Result<emio::Registration> added =
      setup.driver->handle().add_source(setup.listener_fd, emio::Interest::readable);
  if (!added.ok()) return;
  listener_registration = added.value();
  accept_all(nullptr);
}

}  // namespace emio_bench
