// SPDX-License-Identifier: MIT
#include "fault/echo_traffic.h"

#include "fault/fault_layer.h"

#include <cerrno>
#include <utility>

using emio::Error;
using emio::Result;
using emio::Task;
using emio::TcpStream;

namespace emio_fault_test {
namespace {

// What a reset connection says, on either side, first or later.
bool is_connection_loss(Error error) {
  return error == Error::from_errno(ECONNRESET) || error == Error::from_errno(EPIPE) ||
         error == Error::from_errno(ENOTCONN);
}

bool is_fd_exhaustion(Error error) { return error == Error::from_errno(EMFILE) || error == Error::from_errno(ENFILE); }

Task<> echo_connection(TcpStream stream, EchoServer& server) {
  std::byte buffer[512];
  for (;;) {
    Result<size_t> got = co_await stream.read(buffer);
    if (!got.ok() || got.value() == 0) {
      if (!got.ok() && !is_connection_loss(got.error()) && server.failure.ok()) server.failure = got.error();
      break;
    }
    Result<size_t> sent = co_await stream.write_all(std::span(buffer, got.value()));
    if (!sent.ok()) {
      if (!is_connection_loss(sent.error()) && server.failure.ok()) server.failure = sent.error();
      break;
    }
  }
  if (server.defect == ServerDefect::keeps_ended_connections && server.kept_count < kept_connection_capacity) {
    server.kept[server.kept_count++] = std::move(stream);
  } else {
    (void)stream.close();
  }
}

// ServerDefect::stops_serving_after_faults: true once the server has seen a fault-free accept after
// faulted ones (the fault layer is per thread, and the server runs on the arming thread).
bool stops_now(EchoServer& server, bool& saw_faults) {
  if (server.defect != ServerDefect::stops_serving_after_faults) return false;
  saw_faults = saw_faults || emio_fault::armed();
  return saw_faults && !emio_fault::armed();
}

Task<> accept_loop(EchoServer& server) {
  bool saw_faults = false;
  for (;;) {
    Result<TcpStream> accepted = co_await server.listener.accept();
    if (stops_now(server, saw_faults)) {
      (void)server.listener.close();
      co_return;
    }
    if (accepted.ok()) {
      if (Result<emio::TaskId> spawned = server.executor->spawn(echo_connection(std::move(accepted.value()), server));
          !spawned.ok() && server.failure.ok()) {
        server.failure = spawned.error();
      }
      continue;
    }
    if (!is_fd_exhaustion(accepted.error())) {
      server.failure = accepted.error();
      co_return;
    }
    // The connection stays queued and the edge that announced it will not come again: look later, as
    // emio-echo does.
    server.accept_backoffs += 1;
    (void)co_await emio::sleep_ms(2);
  }
}

// One chunk out and back on `stream`: a connection loss (the chunk is sent again on a new one) or
// another error.
Task<Error> exchange_chunk(TcpStream& stream, EchoClient& client, size_t size) {
  for (size_t i = 0; i < size; ++i) client.sent[i] = pattern_byte(client.id, client.confirmed_bytes + uint32_t(i));
  Result<size_t> sent = co_await stream.write_all(std::span(client.sent.data(), size));
  if (!sent.ok()) co_return sent.error();
  size_t got_total = 0;
  while (got_total < size) {
    Result<size_t> got = co_await stream.read(std::span(client.received.data() + got_total, size - got_total));
    if (!got.ok()) co_return got.error();
    if (got.value() == 0) co_return Error::from_errno(ECONNRESET);  // the server ended it: lost as well
    got_total += got.value();
  }
  for (size_t i = 0; i < size; ++i) client.wrong_bytes += client.received[i] != client.sent[i];
  client.confirmed_bytes += uint32_t(size);
  co_return Error{};
}

Task<> echo_client(emio::SocketAddress address, EchoClient& client, uint32_t total_bytes) {
  while (client.confirmed_bytes < total_bytes && client.failure.ok()) {
    Result<TcpStream> connected = co_await TcpStream::connect(address);
    if (!connected.ok()) {
      if (!is_fd_exhaustion(connected.error()) && !is_connection_loss(connected.error())) {
        client.failure = connected.error();
      }
      (void)co_await emio::sleep_ms(2);
      continue;
    }
    TcpStream stream = std::move(connected.value());
    bool lost = false;
    while (!lost && client.failure.ok() && client.confirmed_bytes < total_bytes) {
      const uint32_t left = total_bytes - client.confirmed_bytes;
      const uint32_t size =
          1 + (uint32_t(pattern_byte(client.id ^ 0x55u, client.confirmed_bytes)) * 7u) % chunk_capacity;
      const Error exchanged = co_await exchange_chunk(stream, client, size < left ? size : left);
      lost = is_connection_loss(exchanged);
      if (!lost && exchanged.failed()) client.failure = exchanged;
    }
    if (lost) client.reconnects += 1;
    (void)stream.close();
  }
  client.done = true;
}

}  // namespace

std::byte pattern_byte(uint32_t stream_id, uint32_t offset) {
  uint64_t value = (uint64_t{stream_id} << 32 | offset) * 0x9e3779b97f4a7c15u;
  return std::byte(uint8_t(value >> 56));
}

Error start_echo_server(EchoServer& server) {
  Result<emio::TaskId> spawned = server.executor->spawn(accept_loop(server));
  return spawned.ok() ? Error{} : spawned.error();
}

Error start_clients(emio::Executor& executor, emio::SocketAddress address, EchoRound& round) {
  for (uint32_t i = 0; i < round.client_count; ++i) {
    round.clients[i].id = i + 1;
    Result<emio::TaskId> spawned = executor.spawn(echo_client(address, round.clients[i], round.bytes_per_client));
    if (!spawned.ok()) return spawned.error();
  }
  return Error{};
}

bool round_finished(const EchoRound& round) {
  for (uint32_t i = 0; i < round.client_count; ++i) {
    if (!round.clients[i].done) return false;
  }
  return true;
}

}  // namespace emio_fault_test
