#include "bridge/bridge.h"

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

}  // namespace

emio::Error Bridge::init(const BridgeConfig& config) {
  config_ = config;
  const size_t client_bytes = size_t{config.max_clients} * config.client_buffer_bytes;
  buffers_ = new (std::nothrow) std::byte[client_bytes + config.serial_outbox_bytes];
  if (buffers_ == nullptr || clients_.init(config.max_clients) != emio::ArenaStatus::ok) {
    return emio::Error::no_storage;
  }
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
      emio::SerialPort::open(executor.handle(), config_.serial_path, config_.baud_rate);
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
  arm(accept_watch_, listener_.registration(), emio::Direction::read, on_accept, this);
}

void Bridge::on_accept(void* self, emio::ReadyEvent event) {
  if (!event.shut_down) static_cast<Bridge*>(self)->accept_pending();
}

void Bridge::accept_pending() {
  for (int round = 0; round < reads_per_callback; ++round) {
    emio::Result<emio::TcpStream> accepted = listener_.try_accept();
    if (emio::is_would_block(accepted)) break;
    if (accepted.ok()) {
      admit(std::move(accepted.value()));
      continue;
    }
    counters_.accept_failures += 1;
    const AcceptPolicy::Next next = accept_policy_.on_failure(accepted.error());
    if (next == AcceptPolicy::Next::stop) return;
    if (next == AcceptPolicy::Next::back_off) {
      // The connection stays queued and the listener readable: re-arming now would call back at once.
      if (executor_->timers()
              .start_once(accept_retry_timer_, AcceptPolicy::resource_backoff_ms, on_accept_retry, this)
              .ok()) {
        return;
      }
      break;  // no timer free: retry on the next iteration rather than never
    }
  }
  arm(accept_watch_, listener_.registration(), emio::Direction::read, on_accept, this);
}

void Bridge::on_accept_retry(emio::Timer&, void* self) { static_cast<Bridge*>(self)->accept_pending(); }

void Bridge::admit(emio::TcpStream stream) {
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
    if (!got.ok() || got.value() == 0) return drop_client(client);  // reset, or closed by the client
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

void Bridge::drop_client(Client& client) {
  client.read_watch.disarm();
  client.write_watch.disarm();
  release_connection(clients_, client);
}

void Bridge::close_all() {
  accept_watch_.disarm();
  (void)accept_retry_timer_.cancel();
  (void)listener_.close();
  for_each_connection(clients_, [this](Client& client) { drop_client(client); });
  (void)retry_timer_.cancel();
  close_serial();
}

}  // namespace emio_examples
