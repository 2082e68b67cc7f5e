// The fixed table of client connections both daemons keep: a SlotArena sized at start-up whose slots
// hold a `stream` (emio::TcpStream) and the `token` that frees them. Past its capacity a connection is
// closed at once: its client reads end of stream, and the connections already served keep working.
#pragma once

#include <cstdint>
#include <utility>

#include "emio/alloc/slot_arena.h"
#include "emio/driver/waker.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/task.h"

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

// Awaitable: completes once `table` has a free slot. An accept loop awaits it (under a timeout) before
// turning a client away: the tasks of connections whose peers already closed need one driver turn to see
// the end of stream, and an accept storm would otherwise fill the table with them first. Whoever frees a
// slot wakes `waiter` (notify_slot_freed).
template <typename Connection>
class [[nodiscard]] FreeSlotWait {
 public:
  using Output = emio::Error;
  FreeSlotWait(const emio::SlotArena<Connection>& table, emio::Waker& waiter) : table_(&table), waiter_(&waiter) {}

  bool poll(emio::PollContext& context) {
    if (table_->live_count() < table_->capacity()) return true;
    *waiter_ = context.waker;
    return false;
  }
  emio::Error take_output() const { return emio::Error{}; }
  void cancel() { *waiter_ = {}; }

 private:
  const emio::SlotArena<Connection>* table_;
  emio::Waker* waiter_;
};

// Wakes the accept loop waiting for a slot, if any; call it after release_connection.
inline void notify_slot_freed(emio::Waker& waiter) { std::exchange(waiter, {}).wake(); }

}  // namespace emio_examples
