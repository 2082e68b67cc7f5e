// SPDX-License-Identifier: MIT
// emio_peer_libuv PORT [--max-seconds S]: the echo server on libuv (Debian's libuv 1.44, epoll inside),
// written the way libuv's users write a fast echo: uv_read_start into the connection's buffer, then
// uv_try_write (no request, no callback when the socket takes it all); only a partial write queues a
// uv_write_t and stops reading until it is done. The contract is in peer_contract.h.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>

#include "peer_contract.h"

namespace {

using namespace emio_peers;

constexpr const char* name = "emio_peer_libuv";
constexpr int max_connections = connection_table_fds;

// Static storage only, without initialisers, so that the pool is .bss and start-up touches none of it.
struct LibuvConnection {
  uv_tcp_t handle;  // handle.data points back here
  uv_write_t write_request;
  char buffer[peer_buffer_bytes];
};

struct LibuvServer {
  uv_loop_t loop;
  PeerSockets sockets;
  uv_tcp_t listener;
  uv_poll_t stop_poll;
  int exit_code = exit_ok;
  // Closed connections, for reuse; the pool's untouched tail is handed out after them.
  LibuvConnection* closed[max_connections];
  int closed_count = 0;
  int never_used = max_connections;
};

LibuvServer server;
LibuvConnection pool[max_connections];

LibuvConnection& connection_of(uv_handle_t* handle) { return *static_cast<LibuvConnection*>(handle->data); }

void on_closed(uv_handle_t* handle) { server.closed[server.closed_count++] = &connection_of(handle); }

LibuvConnection* take_connection() {
  if (server.closed_count > 0) return server.closed[--server.closed_count];
  if (server.never_used > 0) return &pool[max_connections - server.never_used--];
  return nullptr;
}

void close_connection(uv_stream_t* stream) { uv_close(reinterpret_cast<uv_handle_t*>(stream), on_closed); }

void on_allocate(uv_handle_t* handle, size_t, uv_buf_t* buffer) {
  *buffer = uv_buf_init(connection_of(handle).buffer, sizeof LibuvConnection::buffer);
}

void on_read(uv_stream_t* stream, ssize_t got, const uv_buf_t*);

void on_written(uv_write_t* request, int status) {
  if (status < 0) return close_connection(request->handle);
  (void)uv_read_start(request->handle, on_allocate, on_read);
}

void on_read(uv_stream_t* stream, ssize_t got, const uv_buf_t*) {
  if (got < 0) return close_connection(stream);
  if (got == 0) return;  // EAGAIN
  LibuvConnection& connection = connection_of(reinterpret_cast<uv_handle_t*>(stream));
  uv_buf_t unsent = uv_buf_init(connection.buffer, static_cast<unsigned>(got));
  const int written = uv_try_write(stream, &unsent, 1);
  if (written == got) return;
  if (written < 0 && written != UV_EAGAIN) return close_connection(stream);
  if (written > 0) unsent = uv_buf_init(connection.buffer + written, static_cast<unsigned>(got - written));
  // The buffer is busy until the write is done: stop reading into it meanwhile.
  (void)uv_read_stop(stream);
  if (uv_write(&connection.write_request, stream, &unsent, 1, on_written) != 0) close_connection(stream);
}

// No free connection: take the connection off the backlog and close it (libuv would stop accepting
// altogether if it were left pending).
void turn_away(uv_stream_t* listener) {
  uv_os_fd_t listener_fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(listener), &listener_fd) != 0) return;
  const int fd = ::accept4(listener_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) ::close(fd);
}

void on_connection(uv_stream_t* listener, int status) {
  if (status < 0) return;
  LibuvConnection* connection = take_connection();
  if (connection == nullptr) return turn_away(listener);
  (void)uv_tcp_init(&server.loop, &connection->handle);
  connection->handle.data = connection;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->handle);
  if (uv_accept(listener, stream) != 0) return close_connection(stream);
  (void)uv_tcp_nodelay(&connection->handle, 1);
  if (uv_read_start(stream, on_allocate, on_read) != 0) close_connection(stream);
}

void on_stop(uv_poll_t* poll, int, int) {
  server.exit_code = exit_code_for_stop(name, server.sockets.stop_fd);
  uv_stop(poll->loop);
}

bool start_loop() {
  return uv_loop_init(&server.loop) == 0 &&
         uv_poll_init(&server.loop, &server.stop_poll, server.sockets.stop_fd) == 0 &&
         uv_poll_start(&server.stop_poll, UV_READABLE, on_stop) == 0 &&
         uv_tcp_init(&server.loop, &server.listener) == 0 &&
         uv_tcp_open(&server.listener, server.sockets.listener_fd) == 0 &&
         uv_listen(reinterpret_cast<uv_stream_t*>(&server.listener), listen_backlog, on_connection) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const int code = start_peer(name, argc, argv, &server.sockets); code >= 0) return code;
  if (!start_loop()) {
    std::fprintf(stderr, "%s: cannot start the libuv loop\n", name);
    return exit_failure;
  }
  (void)uv_run(&server.loop, UV_RUN_DEFAULT);
  return server.exit_code;
}
