// SPDX-License-Identifier: MIT
// The serial-to-network bridge of emio-bridge, in callbacks (IoWatch): bytes read from the serial port
// go to every connected client, bytes from any client go to the serial port.
//
// Memory, all taken in init(): a fixed table of clients, each with a bounded outbox of
// client_buffer_bytes for serial bytes the client has not taken yet, and one shared serial outbox for
// client bytes the port has not taken yet. init() writes every page of it (or locks it, on request), so
// what the start-up line reports is resident from the start, not taken later as slow clients fill up.
//
// Half-close: a client that ends its sending side (nc -N, shutdown(SHUT_WR)) still reads: the board's
// reply to its last command is on its way. It keeps receiving until it closes (a write then fails) or
// half_close_linger_ms pass (one timer per client), or a new client needs its slot.
//
// Flow control: the serial side is never slowed by a client. A client whose outbox cannot take a chunk
// is a slow client and meets the policy: `drop` keeps it and drops what does not fit, `disconnect`
// closes it; both are counted. The other way, clients are slowed instead: when the serial outbox is
// full, clients are not read until the port has taken some bytes (TCP pushes back on the sender).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "bridge/byte_ring.h"
#include "common/accept_watch.h"
#include "emio/alloc/slot_arena.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/io_watch.h"
#include "emio/runtime/serial.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/timer.h"

namespace emio_examples {

enum class SlowClientPolicy : uint8_t { drop, disconnect };

struct BridgeConfig {
  const char* serial_path = nullptr;
  emio::SerialSettings serial;  // 115200 8N1, no flow control, unless the command line says otherwise
  uint32_t max_clients = 16;
  uint32_t client_buffer_bytes = 16384;
  uint32_t serial_outbox_bytes = 16384;
  SlowClientPolicy slow_client_policy = SlowClientPolicy::drop;
  uint32_t half_close_linger_ms = 5000;  // 0: close a client as soon as it half-closes
  bool lock_memory = false;              // mlock what init reserves, instead of only touching it
};

struct BridgeCounters {
  uint64_t serial_read_bytes = 0;     // from the port, before any drop
  uint64_t serial_written_bytes = 0;  // to the port, from every client
  uint64_t clients_accepted = 0;
  uint64_t clients_refused = 0;    // past --max-clients: accepted and closed at once
  uint64_t slow_client_drops = 0;  // times a chunk did not fit a client's outbox (drop policy)
  uint64_t slow_client_dropped_bytes = 0;
  uint64_t slow_client_disconnects = 0;     // clients closed for being slow (disconnect policy)
  uint64_t serial_reopens = 0;              // successful opens after the first (SIGHUP, or after an error)
  uint64_t serial_errors = 0;               // reads or writes that failed, or the port hung up
  uint64_t client_half_closes = 0;          // clients that ended their sending side and were kept to read
  uint64_t half_close_lingers_expired = 0;  // of those, closed because half_close_linger_ms passed
};

class Bridge {
 public:
  static constexpr uint32_t serial_retry_ms = 1000;  // after the port failed or could not be reopened

  Bridge() = default;
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;
  ~Bridge() { delete[] buffers_; }

  // The bytes init() takes for `config`: the client table and every buffer.
  static uint64_t reserved_bytes_for(const BridgeConfig& config);

  // The one allocation of the bridge, every page of it written (or locked). Errors: Error::no_storage;
  // with lock_memory, mlock's (ENOMEM past RLIMIT_MEMLOCK, EPERM).
  emio::Error init(const BridgeConfig& config);
  // Opens the serial port. Errors: SerialPort::open's (ENOENT, EACCES, ENOTTY, EINVAL, ENOTSUP for settings).
  emio::Error open_serial(emio::Executor& executor);
  // Takes the bound listener and starts moving bytes.
  void start(emio::TcpListener listener);
  // Closes and reopens the port (SIGHUP: the adapter was replugged, or a new device took the path).
  void reopen_serial();
  // Closes the listener, every client and the port. Run it after the executor stopped, before it dies.
  void close_all();

  const BridgeCounters& counters() const { return counters_; }
  uint32_t clients_connected() const { return clients_.live_count(); }
  // accept(2) failures on the client listener: out of fds (EMFILE, ENFILE) or a connection aborted.
  uint64_t accept_failures() const { return accept_watch_.failures(); }
  uint64_t reserved_bytes() const { return reserved_bytes_for(config_); }

 private:
  struct Client {
    emio::TcpStream stream;
    emio::Token token;
    ByteRing outbox;  // serial bytes this client has not taken yet
    emio::IoWatch read_watch;
    emio::IoWatch write_watch;
    bool read_paused = false;  // the serial outbox was full: read again once it has room
    emio::Timer linger_timer;  // armed once the client half-closed: closes it when the linger passes
    Bridge* bridge = nullptr;
  };

  static void on_serial_readable(void* self, emio::ReadyEvent event);
  static void on_serial_writable(void* self, emio::ReadyEvent event);
  static void on_client_readable(void* client, emio::ReadyEvent event);
  static void on_client_writable(void* client, emio::ReadyEvent event);
  static void on_retry(emio::Timer& timer, void* self);
  static void on_linger_passed(emio::Timer& timer, void* client);

  void admit(emio::TcpStream stream);
  void read_serial();
  void broadcast(std::span<const std::byte> chunk);
  void deliver(Client& client, std::span<const std::byte> chunk);
  void flush_client(Client& client);
  void read_client(Client& client);
  void flush_serial();
  void resume_paused_clients();
  void client_half_closed(Client& client);
  void release_oldest_lingering_client();
  void drop_client(Client& client);
  void serial_failed(emio::Error error);
  void close_serial();
  void arm(emio::IoWatch& watch, emio::Registration registration, emio::Direction direction,
           emio::IoWatch::Callback callback, void* context);

  BridgeConfig config_;
  emio::Executor* executor_ = nullptr;
  emio::TcpListener listener_;
  AcceptWatch accept_watch_{"clients"};
  emio::SerialPort serial_;
  emio::IoWatch serial_read_watch_;
  emio::IoWatch serial_write_watch_;
  emio::Timer retry_timer_;
  ByteRing serial_outbox_;  // client bytes the port has not taken yet
  emio::SlotArena<Client> clients_;
  std::byte* buffers_ = nullptr;  // every client's outbox, then the serial outbox
  BridgeCounters counters_;
  bool serial_opened_once_ = false;
};

}  // namespace emio_examples
