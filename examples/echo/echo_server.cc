// SPDX-License-Identifier: MIT
#include "echo/echo_server.h"

#include "common/accept_policy.h"
#include "common/connection_table.h"

#include <span>
#include <utility>

#include "emio/runtime/awaitables.h"

namespace emio_examples {

emio::Error EchoServer::init(uint32_t max_connections) {
  return connections_.init(max_connections) == emio::ArenaStatus::ok ? emio::Error{} : emio::Error::no_storage;
}

emio::Error EchoServer::start(emio::Executor& executor, emio::TcpListener listener) {
  executor_ = &executor;
  listener_ = std::move(listener);
  emio::Result<emio::TaskId> spawned = executor.spawn(accept_loop());
  return spawned.ok() ? emio::Error{} : spawned.error();
}

emio::Task<> EchoServer::accept_loop() {
  AcceptPolicy policy("clients");
  bool stayed_full = false;  // the last wait for a slot ran out: turn clients away until one frees
  for (;;) {
    if (!table_full()) {
      stayed_full = false;
    } else if (!stayed_full) {
      // Connections whose peers already closed need a driver turn to see the end of stream and free
      // their slots: give them that before turning the next client away (an accept storm would
      // otherwise fill the table with them). Polled, so that no waker of this frame is left anywhere.
      for (uint32_t waited_ms = 0; table_full() && waited_ms < full_table_wait_ms; ++waited_ms) {
        (void)co_await emio::sleep_ms(1);
      }
      stayed_full = table_full();
    }
    emio::Result<emio::TcpStream> accepted = co_await listener_.accept();
    if (accepted.ok()) {
      if (!table_full()) stayed_full = false;  // a slot freed while accept() waited
      policy.on_success();
      admit(std::move(accepted.value()));
      continue;
    }
    const AcceptPolicy::Next next = policy.on_failure(accepted.error());
    if (next == AcceptPolicy::Next::stop) co_return;  // the executor is going away
    if (next == AcceptPolicy::Next::back_off) (void)co_await emio::sleep_ms(AcceptPolicy::resource_backoff_ms);
  }
}

void EchoServer::admit(emio::TcpStream stream) {
  Connection* connection = admit_connection(connections_, std::move(stream));
  if (connection == nullptr) {
    counters_.connections_turned_away += 1;
    return;
  }
  if (!executor_->spawn(serve(*connection)).ok()) {  // no task slot or coroutine frame free
    counters_.connections_turned_away += 1;
    release_connection(connections_, *connection);
    return;
  }
  counters_.connections_served += 1;
}

emio::Task<> EchoServer::serve(Connection& connection) {
  for (;;) {
    // The bytes stay in the runtime's buffer (the ring's, or the read-view pool's) until echoed: an idle
    // connection holds no buffer, so memory per connection does not grow with the buffer size.
    emio::Result<emio::ReceivedBytes> received = co_await connection.stream.read_view();
    if (!received.ok() || received.value().empty()) break;  // reset, or the client closed its side
    emio::Result<size_t> sent = co_await connection.stream.write_all(received.value().bytes());
    if (!sent.ok()) break;  // reset, or the client went away
    counters_.bytes_echoed += received.value().size();
  }
  release_connection(connections_, connection);
}

void EchoServer::close_all() {
  (void)listener_.close();
  for_each_connection(connections_, [this](Connection& connection) { release_connection(connections_, connection); });
}

}  // namespace emio_examples
