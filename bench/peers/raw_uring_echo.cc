// SPDX-License-Identifier: MIT
// emio_peer_raw_uring PORT [--max-seconds S]: the echo server written directly on liburing, the floor for
// a completion-based daemon: one multishot accept, one multishot recv per connection drawing from a shared
// ring of provided buffers (peer_buffer_bytes each), one send per received chunk straight from that buffer,
// which goes back to the ring once sent. One io_uring_submit_and_wait per turn submits everything the turn
// queued and waits, so at many connections a system call serves many requests. SINGLE_ISSUER and
// DEFER_TASKRUN (6.1) where the kernel has them; no SQPOLL: the contract says one thread. The contract is
// in peer_contract.h.
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "peer_contract.h"

namespace {

using namespace emio_peers;

constexpr const char* name = "emio_peer_raw_uring";
constexpr unsigned submission_entries = 1024;  // the completion queue is twice that
// Twice the 256 connections of the largest run, each with one chunk in flight: the ring does not run dry.
constexpr unsigned provided_buffers = 512;  // a power of two, as buffer rings require
constexpr uint16_t buffer_group = 0;
constexpr int16_t no_buffer = -1;

enum class Operation : uint64_t { accept, recv, send, stop };

uint64_t user_data_for(Operation operation, int fd) {
  return (static_cast<uint64_t>(operation) << 32) | static_cast<uint32_t>(fd);
}
Operation operation_of(uint64_t user_data) { return static_cast<Operation>(user_data >> 32); }
int fd_of(uint64_t user_data) { return static_cast<int>(user_data & 0xffffffffU); }

// A connection's received chunks wait in a FIFO of buffer ids, linked through the buffers; only the
// head is being sent, so the bytes go back out in the order they came.
struct UringConnection {
  int16_t first_chunk = no_buffer;
  int16_t last_chunk = no_buffer;
  uint32_t head_sent_bytes = 0;
  bool recv_armed = false;
  bool send_in_flight = false;
  bool closing = false;          // being closed: closes once no operation is in the kernel
  bool waiting_buffers = false;  // its multishot recv ended with ENOBUFS: re-armed when a buffer returns
};

struct ProvidedBuffer {
  uint32_t bytes = 0;
  int16_t next_chunk = no_buffer;
};

struct RawUringServer {
  io_uring ring;
  io_uring_buf_ring* buffer_ring = nullptr;
  PeerSockets sockets;
  UringConnection connections[connection_table_fds];  // indexed by fd
  ProvidedBuffer chunks[provided_buffers];
  int starved[connection_table_fds];  // fds waiting for a buffer
  int starved_count = 0;
  alignas(4096) char buffers[provided_buffers][peer_buffer_bytes];
};

RawUringServer server;

io_uring_sqe* next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&server.ring);
  while (sqe == nullptr) {  // the submission queue is full: hand it to the kernel and take a fresh entry
    (void)io_uring_submit(&server.ring);
    sqe = io_uring_get_sqe(&server.ring);
  }
  return sqe;
}

void arm_accept() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_multishot_accept(sqe, server.sockets.listener_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, user_data_for(Operation::accept, server.sockets.listener_fd));
}

void arm_stop() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_poll_add(sqe, server.sockets.stop_fd, POLLIN);
  io_uring_sqe_set_data64(sqe, user_data_for(Operation::stop, server.sockets.stop_fd));
}

void arm_recv(int fd) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  io_uring_sqe_set_data64(sqe, user_data_for(Operation::recv, fd));
  server.connections[fd].recv_armed = true;
}

void send_head(int fd) {
  UringConnection& connection = server.connections[fd];
  const int16_t chunk = connection.first_chunk;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, fd, server.buffers[chunk] + connection.head_sent_bytes,
                     server.chunks[chunk].bytes - connection.head_sent_bytes, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, user_data_for(Operation::send, fd));
  connection.send_in_flight = true;
}

void give_back(int16_t chunk) {
  io_uring_buf_ring_add(server.buffer_ring, server.buffers[chunk], peer_buffer_bytes, static_cast<uint16_t>(chunk),
                        io_uring_buf_ring_mask(provided_buffers), 0);
  io_uring_buf_ring_advance(server.buffer_ring, 1);
  if (server.starved_count == 0) return;
  const int fd = server.starved[--server.starved_count];
  server.connections[fd].waiting_buffers = false;
  arm_recv(fd);
}

// Pops the head chunk and hands its buffer back to the kernel.
void drop_head(UringConnection& connection) {
  const int16_t chunk = connection.first_chunk;
  connection.first_chunk = server.chunks[chunk].next_chunk;
  if (connection.first_chunk == no_buffer) connection.last_chunk = no_buffer;
  connection.head_sent_bytes = 0;
  give_back(chunk);
}

void forget_starved(int fd) {
  for (int i = 0; i < server.starved_count; ++i) {
    if (server.starved[i] != fd) continue;
    server.starved[i] = server.starved[--server.starved_count];
    break;
  }
  server.connections[fd].waiting_buffers = false;
}

// Closes once no operation of the connection is in the kernel: its fd may then be reused at once, and
// no completion can arrive for the old connection.
void close_when_idle(int fd) {
  UringConnection& connection = server.connections[fd];
  connection.closing = true;
  if (connection.recv_armed || connection.send_in_flight) {
    (void)::shutdown(fd, SHUT_RDWR);  // ends the multishot recv; a send in flight fails
    return;
  }
  if (connection.waiting_buffers) forget_starved(fd);
  while (connection.first_chunk != no_buffer) drop_head(connection);
  ::close(fd);
}

void on_accept(const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) arm_accept();
  if (cqe.res < 0) return;
  const int fd = cqe.res;
  if (fd >= connection_table_fds) {
    ::close(fd);
    return;
  }
  set_no_delay(fd);
  server.connections[fd] = UringConnection{};
  arm_recv(fd);
}

void on_recv(int fd, const io_uring_cqe& cqe) {
  UringConnection& connection = server.connections[fd];
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) connection.recv_armed = false;
  if (cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    const auto chunk = static_cast<int16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    server.chunks[chunk] = ProvidedBuffer{static_cast<uint32_t>(cqe.res), no_buffer};
    if (connection.last_chunk == no_buffer) {
      connection.first_chunk = chunk;
    } else {
      server.chunks[connection.last_chunk].next_chunk = chunk;
    }
    connection.last_chunk = chunk;
    if (!connection.send_in_flight && !connection.closing) send_head(fd);
  }
  if (connection.recv_armed) return;
  if (cqe.res == -ENOBUFS && !connection.closing) {
    connection.waiting_buffers = true;
    server.starved[server.starved_count++] = fd;
  } else if (cqe.res > 0 && !connection.closing) {
    arm_recv(fd);  // a multishot recv may end early without an error (axboe/liburing#805)
  } else if (!connection.send_in_flight || connection.closing) {
    close_when_idle(fd);  // end of stream: what is still queued is sent first
  }
}

void on_send(int fd, const io_uring_cqe& cqe) {
  UringConnection& connection = server.connections[fd];
  connection.send_in_flight = false;
  if (cqe.res <= 0 || connection.closing) return close_when_idle(fd);
  connection.head_sent_bytes += static_cast<uint32_t>(cqe.res);
  if (connection.head_sent_bytes == server.chunks[connection.first_chunk].bytes) drop_head(connection);
  if (connection.first_chunk != no_buffer) return send_head(fd);
  if (!connection.recv_armed && !connection.waiting_buffers) close_when_idle(fd);
}

// Returns the exit code once the stop signal came, or -1 to keep turning.
int on_completion(const io_uring_cqe& cqe) {
  const uint64_t user_data = io_uring_cqe_get_data64(&cqe);
  switch (operation_of(user_data)) {
    case Operation::accept:
      on_accept(cqe);
      break;
    case Operation::recv:
      on_recv(fd_of(user_data), cqe);
      break;
    case Operation::send:
      on_send(fd_of(user_data), cqe);
      break;
    case Operation::stop:
      return exit_code_for_stop(name, server.sockets.stop_fd);
  }
  return -1;
}

int run() {
  for (;;) {
    const int waited = io_uring_submit_and_wait(&server.ring, 1);
    if (waited < 0 && waited != -EINTR && waited != -EBUSY) {
      std::fprintf(stderr, "%s: io_uring_submit_and_wait: %s\n", name, std::strerror(-waited));
      return exit_failure;
    }
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    int exit_code = -1;
    io_uring_for_each_cqe(&server.ring, head, cqe) {
      ++seen;
      exit_code = on_completion(*cqe);
      if (exit_code >= 0) break;
    }
    io_uring_cq_advance(&server.ring, seen);
    if (exit_code >= 0) return exit_code;
  }
}

// The ring with the least overhead the kernel offers, else a plain one. Returns 0 or -errno.
int init_ring() {
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int result = io_uring_queue_init_params(submission_entries, &server.ring, &params);
  if (result == -EINVAL) {
    params = io_uring_params{};
    result = io_uring_queue_init_params(submission_entries, &server.ring, &params);
  }
  if (result == 0) (void)io_uring_register_ring_fd(&server.ring);  // saves a file lookup per enter
  return result;
}

// liburing 2.3 has no io_uring_setup_buf_ring: the ring is mapped here and registered by hand.
int init_buffer_ring() {
  const size_t ring_bytes = provided_buffers * sizeof(io_uring_buf);
  void* memory = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED) return -errno;
  server.buffer_ring = static_cast<io_uring_buf_ring*>(memory);
  io_uring_buf_ring_init(server.buffer_ring);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<uint64_t>(memory);
  registration.ring_entries = provided_buffers;
  registration.bgid = buffer_group;
  if (const int result = io_uring_register_buf_ring(&server.ring, &registration, 0); result < 0) return result;
  for (unsigned i = 0; i < provided_buffers; ++i) {
    io_uring_buf_ring_add(server.buffer_ring, server.buffers[i], peer_buffer_bytes, static_cast<uint16_t>(i),
                          io_uring_buf_ring_mask(provided_buffers), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(server.buffer_ring, provided_buffers);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const int code = start_peer(name, argc, argv, &server.sockets); code >= 0) return code;
  int result = init_ring();
  if (result == 0) result = init_buffer_ring();
  if (result < 0) {
    std::fprintf(stderr, "%s: cannot set io_uring up: %s\n", name, std::strerror(-result));
    return exit_failure;
  }
  arm_stop();
  arm_accept();
  return run();
}
