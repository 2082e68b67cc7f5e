// SPDX-License-Identifier: MIT
// In-process echo traffic for the fault tests: an echo server task on a TcpListener and clients that
// check every byte they get back, reconnecting when a connection is reset.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "emio/runtime/runtime.h"

namespace emio_fault_test {

constexpr uint32_t max_clients = 8;
constexpr size_t chunk_capacity = 1536;

// Defects planted in the server for the harness tests (harness_fault_test.cc): each must be found.
enum class ServerDefect : uint8_t {
  none,
  keeps_ended_connections,     // an ended connection's stream is kept, not closed: its registration leaks
  stops_serving_after_faults,  // the first connection accepted once the faults stopped ends the server
};

constexpr uint32_t kept_connection_capacity = 16;

struct EchoServer {
  emio::Executor* executor = nullptr;
  emio::TcpListener listener;
  uint32_t accept_backoffs = 0;  // EMFILE/ENFILE, waited out
  emio::Error failure{};         // the first error no daemon should meet
  ServerDefect defect = ServerDefect::none;
  std::array<emio::TcpStream, kept_connection_capacity> kept{};  // ServerDefect::keeps_ended_connections
  uint32_t kept_count = 0;
};

struct EchoClient {
  uint32_t id = 0;
  uint32_t confirmed_bytes = 0;  // sent and echoed back intact
  uint32_t wrong_bytes = 0;
  uint32_t reconnects = 0;
  bool done = false;
  emio::Error failure{};
  std::array<std::byte, chunk_capacity> sent{};
  std::array<std::byte, chunk_capacity> received{};
};

struct EchoRound {
  uint32_t client_count = 4;
  uint32_t bytes_per_client = 16 * 1024;
  std::array<EchoClient, max_clients> clients{};
};

// Spawns the server's accept loop (it runs until the executor goes).
emio::Error start_echo_server(EchoServer& server);
// Spawns the round's clients against `address`.
emio::Error start_clients(emio::Executor& executor, emio::SocketAddress address, EchoRound& round);
bool round_finished(const EchoRound& round);

// The byte a client sends at `offset`: every byte checked is checked against this.
std::byte pattern_byte(uint32_t stream_id, uint32_t offset);

}  // namespace emio_fault_test
