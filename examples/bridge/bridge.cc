// SPDX-License-Identifier: MIT
#include "bridge/bridge.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>
#include <utility>

#include "common/connection_table.h"
#include "emio/port/log.h"
#include "emio/runtime/errors.h"

namespace emio_examples {
namespace {

// Reads per callback before yielding to the other sources: the edge-triggered contract allows stopping
// early, because arming a watch while the source is still ready calls back at the next iteration.
constexpr int reads_per_callback = 16;
constexpr size_t serial_chunk_bytes = 4096;

uint64_t buffer_bytes_for(const BridgeConfig& config) {
  return uint64_t{config.max_clients} * config.client_buffer_bytes + config.serial_outbox_bytes;
}

// Writes one byte of every page: the kernel backs a page with memory only once it is written, so memory
// allocated but untouched is a promise an overcommitting kernel may break later with an OOM kill.
// Volatile, so that the compiler keeps stores nothing reads.
void touch_pages(std::span<std::byte> memory) {
  const long page_bytes = sysconf(_SC_PAGESIZE);
  const size_t stride = page_bytes > 0 ? static_cast<size_t>(page_bytes) : 4096;
  volatile std::byte* const bytes = memory.data();
  for (size_t offset = 0; offset < memory.size(); offset += stride) bytes[offset] = std::byte{0};
}

}  // namespace

uint64_t Bridge::reserved_bytes_for(const BridgeConfig& config) {
  return buffer_bytes_for(config) + uint64_t{config.max_clients} * sizeof(emio::SlotArena<Client>::Slot);
}

emio::Error Bridge::init(const BridgeConfig& config) {
  config_ = config;
  const uint64_t wanted_bytes = buffer_bytes_for(config);
  const auto buffer_bytes = static_cast<size_t>(wanted_bytes);
  if (buffer_bytes != wanted_bytes) return emio::Error::no_storage;  // a 32-bit board: past the address space
  const size_t client_bytes = size_t{config.max_clients} * config.client_buffer_bytes;
  buffers_ = new (std::nothrow) std::byte[buffer_bytes];
  if (buffers_ == nullptr || clients_.init(config.max_clients) != emio::ArenaStatus::ok) {
    return emio::Error::no_storage;
  }
  // The client table was written by its constructors; the buffers were not.
  const std::span<std::byte> buffers(buffers_, buffer_bytes);
  if (config.lock_memory && mlock(buffers.data(), buffers.size()) != 0) return emio::Error::last_os_error();
  touch_pages(buffers);
  for (uint32_t index = 0; index < config.max_clients; ++index) {
    Client& client = clients_.at(index);
    client.outbox.attach(
        std::span<std::byte>(buffers_ + size_t{index} * config.client_buffer_bytes, config.client_buffer_bytes));
    client.bridge = this;
  }
  serial_outbox_.attach(std::span<std::byte>(buffers_ + client_bytes, config.serial_outbox_bytes));
  return emio::Error{};
}

void Bridge::arm(emio::IoWatch& watch, emio::Registration registration, emio::Direction direction,
                 emio::IoWatch::Callback callback, void* context) {
  // Fails only for a registration already removed: the source was closed, and nothing is left to watch.
  (void)watch.arm(*executor_, registration, direction, callback, context);
}

// --- The serial port ---

emio::Error Bridge::open_serial(emio::Executor& executor) {
  executor_ = &executor;
  emio::Result<emio::SerialPort> opened =
      emio::SerialPort::open(executor.handle(), config_.serial_path, config_.serial);
  if (!opened.ok()) return opened.error();
  serial_ = std::move(opened.value());
  if (serial_opened_once_) counters_.serial_reopens += 1;
  serial_opened_once_ = true;
  arm(serial_read_watch_, serial_.registration(), emio::Direction::read, on_serial_readable, this);
  flush_serial();  // client bytes that waited while the port was closed
  resume_paused_clients();
  return emio::Error{};
}

void Bridge::close_serial() {
  serial_read_watch_.disarm();
  serial_write_watch_.disarm();
  (void)serial_.close();
}

void Bridge::reopen_serial() {
  close_serial();
  (void)retry_timer_.cancel();
  const emio::Error error = open_serial(*executor_);
  if (error.failed()) serial_failed(error);
}

void Bridge::serial_failed(emio::Error error) {
  counters_.serial_errors += 1;
  emio::log_message(emio::LogLevel::warning, "serial port %s: %s; retrying every %u ms", config_.serial_path,
                    error.name(), serial_retry_ms);
  close_serial();
  if (executor_->timers().start_once(retry_timer_, serial_retry_ms, on_retry, this).failed()) {
    emio::log_message(emio::LogLevel::error, "no timer free to retry the serial port; send SIGHUP");
  }
}

void Bridge::on_retry(emio::Timer&, void* self) {
  auto* bridge = static_cast<Bridge*>(self);
  const emio::Error error = bridge->open_serial(*bridge->executor_);
  if (error.failed()) bridge->serial_failed(error);
}

void Bridge::on_serial_readable(void* self, emio::ReadyEvent event) {
  if (!event.shut_down) static_cast<Bridge*>(self)->read_serial();
}

void Bridge::read_serial() {
  std::byte chunk[serial_chunk_bytes];
  for (int round = 0; round < reads_per_callback; ++round) {
    emio::Result<size_t> got = serial_.try_read(chunk);
    if (emio::is_would_block(got)) break;
    // 0: a pty whose other end closed, or a USB adapter unplugged (it may also fail with EIO).
    if (!got.ok() || got.value() == 0) return serial_failed(got.ok() ? emio::Error::from_errno(EIO) : got.error());
    counters_.serial_read_bytes += got.value();
    broadcast(std::span<const std::byte>(chunk, got.value()));
  }
  arm(serial_read_watch_, serial_.registration(), emio::Direction::read, on_serial_readable, this);
}

void Bridge::on_serial_writable(void* self, emio::ReadyEvent event) {
  if (!event.shut_down) static_cast<Bridge*>(self)->flush_serial();
}

void Bridge::flush_serial() {
  if (!serial_.is_open()) return;  // kept until the port is back
  const size_t outbox_before = serial_outbox_.size();
  while (!serial_outbox_.empty()) {
    emio::Result<size_t> sent = serial_.try_write(serial_outbox_.readable());
    if (emio::is_would_block(sent)) {
      arm(serial_write_watch_, serial_.registration(), emio::Direction::write, on_serial_writable, this);
      break;
    }
    if (!sent.ok()) return serial_failed(sent.error());
    serial_outbox_.consume(sent.value());
    counters_.serial_written_bytes += sent.value();
  }
  if (serial_outbox_.size() < outbox_before) resume_paused_clients();
}

// --- Clients: accept, serial to network ---

void Bridge::start(emio::TcpListener listener) {
  listener_ = std::move(listener);
  accept_watch_.start(
      *executor_, listener_,
      [](void* self, emio::TcpStream stream) { static_cast<Bridge*>(self)->admit(std::move(stream)); }, this);
}

void Bridge::admit(emio::TcpStream stream) {
  if (clients_.live_count() == clients_.capacity()) release_oldest_lingering_client();
  Client* client = admit_connection(clients_, std::move(stream));
  if (client == nullptr) {
    counters_.clients_refused += 1;
    return;
  }
  client->outbox.clear();
  client->read_paused = false;
  counters_.clients_accepted += 1;
  arm(client->read_watch, client->stream.registration(), emio::Direction::read, on_client_readable, client);
}

void Bridge::broadcast(std::span<const std::byte> chunk) {
  for_each_connection(clients_, [this, chunk](Client& client) { deliver(client, chunk); });
}

void Bridge::deliver(Client& client, std::span<const std::byte> chunk) {
  if (client.outbox.free_bytes() < chunk.size()) {
    if (config_.slow_client_policy == SlowClientPolicy::disconnect) {
      counters_.slow_client_disconnects += 1;
      return drop_client(client);
    }
    counters_.slow_client_drops += 1;
    counters_.slow_client_dropped_bytes += chunk.size() - client.outbox.free_bytes();
  }
  (void)client.outbox.push(chunk);  // under the drop policy, what does not fit is the dropped part
  if (!client.write_watch.armed()) flush_client(client);
}

void Bridge::on_client_writable(void* context, emio::ReadyEvent event) {
  auto* client = static_cast<Client*>(context);
  if (!event.shut_down) client->bridge->flush_client(*client);
}

void Bridge::flush_client(Client& client) {
  while (!client.outbox.empty()) {
    emio::Result<size_t> sent = client.stream.try_write(client.outbox.readable());
    if (emio::is_would_block(sent)) {
      arm(client.write_watch, client.stream.registration(), emio::Direction::write, on_client_writable, &client);
      return;
    }
    if (!sent.ok()) return drop_client(client);  // EPIPE, ECONNRESET: the client is gone
    client.outbox.consume(sent.value());
  }
}

// --- Clients: network to serial ---

void Bridge::on_client_readable(void* context, emio::ReadyEvent event) {
  auto* client = static_cast<Client*>(context);
  if (!event.shut_down) client->bridge->read_client(*client);
}

void Bridge::read_client(Client& client) {
  for (int round = 0; round < reads_per_callback; ++round) {
    std::span<std::byte> space = serial_outbox_.writable();
    if (space.empty()) {
      client.read_paused = true;  // resumed by flush_serial once the port took some bytes
      return;
    }
    emio::Result<size_t> got = client.stream.try_read(space);
    if (emio::is_would_block(got)) break;
    if (!got.ok()) return drop_client(client);  // reset
    if (got.value() == 0) return client_half_closed(client);
    serial_outbox_.commit(got.value());
    if (!serial_write_watch_.armed()) flush_serial();
  }
  arm(client.read_watch, client.stream.registration(), emio::Direction::read, on_client_readable, &client);
}

void Bridge::resume_paused_clients() {
  for_each_connection(clients_, [this](Client& client) {
    if (!client.read_paused) return;
    client.read_paused = false;
    arm(client.read_watch, client.stream.registration(), emio::Direction::read, on_client_readable, &client);
  });
}

// End of stream: the client sends nothing more, which may be a full close or only a half-close (nc -N
// after its last command); a socket cannot tell them apart until a write to a closed one fails. So the
// client keeps receiving, and the linger bounds how long a client that never closes holds its slot.
void Bridge::client_half_closed(Client& client) {
  counters_.client_half_closes += 1;
  if (config_.half_close_linger_ms == 0 ||
      executor_->timers()
          .start_once(client.linger_timer, config_.half_close_linger_ms, on_linger_passed, &client)
          .failed()) {
    return drop_client(client);  // no linger asked for (or, sized as main sizes it, no timer free)
  }
}

// The table is full: a client still connected is worth more than one that stopped sending (and may have
// closed, unknown to the bridge), so the one lingering longest gives its slot up.
void Bridge::release_oldest_lingering_client() {
  Client* oldest = nullptr;
  for_each_connection(clients_, [&oldest](Client& client) {
    if (!client.linger_timer.armed()) return;
    if (oldest == nullptr || client.linger_timer.deadline_ms() < oldest->linger_timer.deadline_ms()) oldest = &client;
  });
  if (oldest != nullptr) drop_client(*oldest);
}

void Bridge::on_linger_passed(emio::Timer&, void* context) {
  auto* client = static_cast<Client*>(context);
  client->bridge->counters_.half_close_lingers_expired += 1;
  client->bridge->drop_client(*client);
}

void Bridge::drop_client(Client& client) {
  client.read_watch.disarm();
  client.write_watch.disarm();
  (void)client.linger_timer.cancel();
  release_connection(clients_, client);
}

void Bridge::close_all() {
  accept_watch_.stop();
  (void)listener_.close();
  for_each_connection(clients_, [this](Client& client) { drop_client(client); });
  (void)retry_timer_.cancel();
  close_serial();
}

}  // namespace emio_examples
