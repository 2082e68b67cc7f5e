// SPDX-License-Identifier: MIT
// The echo server of emio-echo, in coroutines: one task accepts, one task per connection echoes.
// Connections live in a fixed SlotArena sized at init. When it is full, the accept loop first waits (up to
// full_table_wait_ms) for a connection to end; a client that still finds no slot is accepted and closed at
// once (it reads end of stream) while the others keep working. Accepting runs under the executor's
// cooperative budget, and failed accepts follow AcceptPolicy (back off when out of fds).
#pragma once

#include <cstddef>
#include <cstdint>

#include "emio/alloc/slot_arena.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/task.h"

namespace emio_examples {

struct EchoCounters {
  uint64_t connections_served = 0;
  uint64_t connections_turned_away = 0;  // past --max-connections, or no task slot free
  uint64_t bytes_echoed = 0;
};

class EchoServer {
 public:
  // How long a client accepted into a full table waits for a connection to end before it is turned away.
  static constexpr uint32_t full_table_wait_ms = 50;

  // The one allocation: `max_connections` connection slots. The executor needs read_view_buffers
  // (readiness) and native_streams (io_uring) configured: the reads are read views.
  emio::Error init(uint32_t max_connections);
  // Takes the bound listener and spawns the accept loop on `executor`.
  emio::Error start(emio::Executor& executor, emio::TcpListener listener);
  // Closes the listener and every connection, whose clients read end of stream. Run it after the
  // executor stopped and before it is destroyed (closing deregisters from its driver).
  void close_all();

  const EchoCounters& counters() const { return counters_; }

 private:
  struct Connection {
    emio::TcpStream stream;
    emio::Token token;  // no buffer: each read's bytes are lent by the runtime (read_view) until echoed
  };

  emio::Task<> accept_loop();
  bool table_full() const { return connections_.live_count() == connections_.capacity(); }
  emio::Task<> serve(Connection& connection);
  void admit(emio::TcpStream stream);

  emio::Executor* executor_ = nullptr;
  emio::TcpListener listener_;
  emio::SlotArena<Connection> connections_;
  EchoCounters counters_;
};

}  // namespace emio_examples
