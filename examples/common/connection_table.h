// SPDX-License-Identifier: MIT
// The fixed table of client connections both daemons keep: a SlotArena sized at start-up whose slots
// hold a `stream` (emio::TcpStream) and the `token` that frees them. Past its capacity a connection is
// closed at once: its client reads end of stream, and the connections already served keep working.
#pragma once

#include <cstdint>
#include <utility>

#include "emio/alloc/slot_arena.h"
#include "emio/runtime/stream.h"

namespace emio_examples {

// The slot now holding `stream`, or nullptr when the table is full (and `stream` was closed).
template <typename Connection>
Connection* admit_connection(emio::SlotArena<Connection>& table, emio::TcpStream stream) {
  const emio::ArenaAllocation<Connection> slot = table.allocate();
  if (slot.status != emio::ArenaStatus::ok) return nullptr;
  slot.value->stream = std::move(stream);
  slot.value->token = slot.token;
  return slot.value;
}

// Closes the connection (deregistering it first) and frees its slot.
template <typename Connection>
void release_connection(emio::SlotArena<Connection>& table, Connection& connection) {
  (void)connection.stream.close();
  (void)table.release(connection.token);
}

// Calls visit(connection) for every live one; visit may release the one it is given.
template <typename Connection, typename Visit>
void for_each_connection(emio::SlotArena<Connection>& table, Visit&& visit) {
  for (uint32_t index = 0; index < table.capacity(); ++index) {
    if (table.is_live(index)) visit(table.at(index));
  }
}

}  // namespace emio_examples
