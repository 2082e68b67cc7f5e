// SPDX-License-Identifier: MIT
// The echo server on completion operations: per connection a receive and a send record, each submitted
// again from the other's completion. In multishot mode (kernel bypass) one accept and one receive per
// connection stay in flight, the receive taking its buffers from the driver's provided buffer ring.
#include <unistd.h>

#include <cstring>

#include "echo_server.h"
#include "emio/driver/operation.h"

namespace emio_bench {
namespace {

struct Connection {
  const ServerSetup* setup = nullptr;
  int fd = -1;
  emio::OpSource source{};
  emio::Operation recv{};
  emio::Operation send{};
  char buffer[1024];   // single-shot: what recv filled and send echoes; multishot: what send echoes
  char pending[1024];  // multishot: received while a send was in flight
  uint32_t pending_bytes = 0;
  bool sending = false;
  bool ended = false;
};

Connection connections[max_connections];
const ServerSetup* server = nullptr;
bool multishot_mode = false;
emio::OpSource listener{};
emio::Operation accept_op{};

std::span<std::byte> bytes(char* data, size_t size) { return {reinterpret_cast<std::byte*>(data), size}; }

void close_connection(Connection& connection) {
  (void)server->driver->detach(connection.source);
  ::close(connection.fd);
  connection.fd = -1;
  server->counters->closed += 1;
}

void on_sent(void* context);
void on_received(void* context);
void on_received_chunk(void* context);

void receive(Connection& connection) {
  emio::prepare_recv(connection.recv, connection.source, bytes(connection.buffer, sizeof connection.buffer),
                     {on_received, &connection});
  if (server->driver->submit(connection.recv).failed()) close_connection(connection);
}

void send(Connection& connection, uint32_t size) {
  connection.sending = true;
  emio::prepare_send(connection.send, connection.source, bytes(connection.buffer, size), {on_sent, &connection});
  if (server->driver->submit(connection.send).failed()) connection.sending = false;
}

void on_received(void* context) {
  Connection& connection = *static_cast<Connection*>(context);
  if (connection.recv.result <= 0) return close_connection(connection);
  server->counters->bytes_echoed += connection.recv.value();
  send(connection, connection.recv.value());
}

// Multishot: the chunk is ours only during this call; keep it until the send in flight is done.
void on_received_chunk(void* context) {
  Connection& connection = *static_cast<Connection*>(context);
  const emio::Operation& recv = connection.recv;
  if (recv.result > 0 && connection.pending_bytes + recv.value() <= sizeof connection.pending) {
    std::memcpy(connection.pending + connection.pending_bytes, recv.buffer, recv.value());
    connection.pending_bytes += recv.value();
    server->counters->bytes_echoed += recv.value();
  }
  connection.ended = !recv.more;
  if (!connection.sending && connection.pending_bytes > 0) {
    std::memcpy(connection.buffer, connection.pending, connection.pending_bytes);
    const uint32_t size = connection.pending_bytes;
    connection.pending_bytes = 0;
    send(connection, size);
  }
  if (connection.ended && !connection.sending) close_connection(connection);
}

void on_sent(void* context) {
  Connection& connection = *static_cast<Connection*>(context);
  connection.sending = false;
  if (!multishot_mode) {
    if (connection.send.result <= 0) return close_connection(connection);
    return receive(connection);
  }
  if (connection.pending_bytes > 0) {
    std::memcpy(connection.buffer, connection.pending, connection.pending_bytes);
    const uint32_t size = connection.pending_bytes;
    connection.pending_bytes = 0;
    return send(connection, size);
  }
  if (connection.ended) close_connection(connection);
}

void start(int fd) {
  if (server->counters->accepted >= server->connections) {
    ::close(fd);  // more clients than announced
    return;
  }
  Connection& connection = connections[server->counters->accepted++];
  connection.setup = server;
  connection.fd = fd;
  if (server->driver->attach(connection.source, fd).failed()) {
    ::close(fd);
    server->counters->closed += 1;
    return;
  }
  if (!multishot_mode) return receive(connection);
  emio::prepare_recv_multishot(connection.recv, connection.source, {on_received_chunk, &connection});
  if (server->driver->submit(connection.recv).failed()) close_connection(connection);
}

void on_accepted(void* /*context*/) {
  if (accept_op.result >= 0) start(accept_op.result);
  if (multishot_mode || server->counters->accepted >= server->connections) return;
  emio::prepare_accept(accept_op, listener, nullptr, 0, {on_accepted, nullptr});
  (void)server->driver->submit(accept_op);
}

}  // namespace

void run_operations_server(const ServerSetup& setup, bool multishot) {
  server = &setup;
  multishot_mode = multishot;
  if (setup.driver->attach(listener, setup.listener_fd).failed()) return;
  if (multishot) {
    emio::prepare_accept_multishot(accept_op, listener, {on_accepted, nullptr});
  } else {
    emio::prepare_accept(accept_op, listener, nullptr, 0, {on_accepted, nullptr});
  }
  (void)setup.driver->submit(accept_op);
}

}  // namespace emio_bench
