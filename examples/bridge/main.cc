// SPDX-License-Identifier: MIT
// emio-bridge: a serial-to-network bridge in the spirit of ser2net.
//   emio-bridge --serial PATH --baud N --listen ADDR:PORT --metrics ADDR:PORT [--backend NAME]
//               [--data-bits 5-8] [--parity none|even|odd] [--stop-bits 1|2] [--rtscts] [--rs485]
//               [--slow-client drop|disconnect] [--client-buffer-bytes N] [--max-clients N]
//               [--half-close-linger-ms N] [--metrics-timeout-ms N] [--memory-cap-mib N] [--lock-memory]
// Bytes from the serial port go to every client, bytes from any client go to the port; GET /metrics on
// the metrics address answers in the Prometheus text format. SIGHUP reopens the port; SIGTERM and
// SIGINT exit 0. Bad flags, buffers above the memory cap, or a serial device that cannot be opened as
// asked: one line, exit 2.
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>

#include "bridge/bridge.h"
#include "bridge/metrics_server.h"
#include "common/command_line.h"
#include "common/daemon_setup.h"
#include "common/signal_task.h"
#include "emio/port/clock.h"
#include "emio/runtime/systemd.h"

namespace {

using namespace emio_examples;

constexpr const char* program = "emio-bridge";

enum Flag {
  flag_serial,
  flag_baud,
  flag_data_bits,
  flag_parity,
  flag_stop_bits,
  flag_rtscts,
  flag_rs485,
  flag_listen,
  flag_metrics,
  flag_backend,
  flag_slow_client,
  flag_client_buffer_bytes,
  flag_max_clients,
  flag_half_close_linger_ms,
  flag_metrics_timeout_ms,
  flag_memory_cap_mib,
  flag_lock_memory,
  flag_count
};
constexpr uint32_t default_memory_cap_mib = 256;
constexpr FlagSpec flag_specs[flag_count] = {
    {"serial", "PATH", "serial device, e.g. /dev/ttyUSB0 (required)"},
    {"baud", "N", "baud rate (default 115200); a non-standard one (250000) through termios2 on Linux"},
    {"data-bits", "N", "data bits, 5 to 8 (default 8)"},
    {"parity", "P", "parity: none (default), even or odd"},
    {"stop-bits", "N", "stop bits, 1 (default) or 2"},
    {"rtscts", nullptr, "RTS/CTS hardware flow control"},
    {"rs485", nullptr, "RS-485 half duplex by the UART driver (TIOCSRS485; RTS high while sending)"},
    {"listen", "ADDR:PORT", "address clients connect to (required)"},
    {"metrics", "ADDR:PORT", "address of GET /metrics, Prometheus text format (required)"},
    {"backend", "NAME", "IO backend, among those compiled in (default: the build's)"},
    {"slow-client", "POLICY", "a client that cannot keep up: drop (its bytes; default) or disconnect (it)"},
    {"client-buffer-bytes", "N", "bytes buffered per client before the slow-client policy applies (16384)"},
    {"max-clients", "N", "clients served at once; more are closed at once (default 16)"},
    {"half-close-linger-ms", "N", "a client that half-closed (nc -N) keeps receiving N ms (5000; 0: none)"},
    {"metrics-timeout-ms", "N", "a /metrics request must arrive within N ms, else 408 (default 5000)"},
    {"memory-cap-mib", "N", "refuse to start if the clients' memory exceeds N MiB (default 256)"},
    {"lock-memory", nullptr, "also mlock the clients' memory (needs RLIMIT_MEMLOCK or CAP_IPC_LOCK)"},
};

struct BridgeOptions {
  BridgeConfig bridge;
  emio::SocketAddress listen;
  emio::SocketAddress metrics;
  emio::BackendChoice backend = emio::BackendChoice::automatic;
  uint32_t metrics_request_timeout_ms = MetricsServer::default_request_timeout_ms;
  uint32_t memory_cap_mib = default_memory_cap_mib;
};

// Reads the number given for `flag`, if any, into *value; false (the usage error printed) when it is not
// a number in [minimum, maximum].
bool read_number(const char* const* values, Flag flag, uint32_t minimum, uint32_t maximum, uint32_t* value) {
  const char* text = values[flag];
  if (text == nullptr || parse_unsigned(text, minimum, maximum, value)) return true;
  (void)usage_error(program, "--%s: '%s' is not a number from %" PRIu32 " to %" PRIu32, flag_specs[flag].name, text,
                    minimum, maximum);
  return false;
}

int read_numbers(const char* const* values, BridgeOptions* options) {
  BridgeConfig* config = &options->bridge;
  emio::SerialSettings* serial = &config->serial;
  if (values[flag_baud] != nullptr &&
      !parse_unsigned(values[flag_baud], 50, emio::SerialSettings::max_baud_rate, &serial->baud_rate)) {
    return usage_error(program, "--baud: '%s' is not a baud rate from 50 to %" PRIu32, values[flag_baud],
                       emio::SerialSettings::max_baud_rate);
  }
  uint32_t data_bits = serial->data_bits;
  uint32_t stop_bits = serial->stop_bits;
  if (!read_number(values, flag_data_bits, 5, 8, &data_bits) ||
      !read_number(values, flag_stop_bits, 1, 2, &stop_bits)) {
    return exit_usage;
  }
  serial->data_bits = static_cast<uint8_t>(data_bits);
  serial->stop_bits = static_cast<uint8_t>(stop_bits);
  constexpr uint32_t hour_ms = 3600000;
  const bool all_read =
      read_number(values, flag_client_buffer_bytes, 256, 1u << 24, &config->client_buffer_bytes) &&
      read_number(values, flag_max_clients, 1, 1024, &config->max_clients) &&
      read_number(values, flag_half_close_linger_ms, 0, hour_ms, &config->half_close_linger_ms) &&
      read_number(values, flag_metrics_timeout_ms, 1, hour_ms, &options->metrics_request_timeout_ms) &&
      read_number(values, flag_memory_cap_mib, 1, 1u << 20, &options->memory_cap_mib);
  return all_read ? keep_running : exit_usage;
}

// Memory the bridge cannot have is refused now, while the operator is there to read why, rather than
// met later as an OOM kill once slow clients fill their buffers.
int check_memory_cap(const BridgeOptions& options) {
  const uint64_t reserved_bytes = Bridge::reserved_bytes_for(options.bridge);
  const uint64_t cap_bytes = uint64_t{options.memory_cap_mib} << 20;
  if (reserved_bytes <= cap_bytes) return keep_running;
  return usage_error(program,
                     "--max-clients %" PRIu32 " x --client-buffer-bytes %" PRIu32 " need %" PRIu64
                     " bytes, above --memory-cap-mib %" PRIu32,
                     options.bridge.max_clients, options.bridge.client_buffer_bytes, reserved_bytes,
                     options.memory_cap_mib);
}

int read_policy(const char* text, BridgeConfig* config) {
  if (text == nullptr || std::strcmp(text, "drop") == 0) {
    config->slow_client_policy = SlowClientPolicy::drop;
  } else if (std::strcmp(text, "disconnect") == 0) {
    config->slow_client_policy = SlowClientPolicy::disconnect;
  } else {
    return usage_error(program, "--slow-client: '%s' is neither drop nor disconnect", text);
  }
  return keep_running;
}

int read_serial_modes(const char* const* values, emio::SerialSettings* serial) {
  const char* parity = values[flag_parity];
  if (parity == nullptr || std::strcmp(parity, "none") == 0) {
    serial->parity = emio::Parity::none;
  } else if (std::strcmp(parity, "even") == 0) {
    serial->parity = emio::Parity::even;
  } else if (std::strcmp(parity, "odd") == 0) {
    serial->parity = emio::Parity::odd;
  } else {
    return usage_error(program, "--parity: '%s' is none of none, even, odd", parity);
  }
  if (values[flag_rtscts] != nullptr) serial->flow_control = emio::FlowControl::rts_cts;
  serial->rs485.enabled = values[flag_rs485] != nullptr;
  if (serial->rs485.enabled && serial->flow_control == emio::FlowControl::rts_cts) {
    return usage_error(program, "--rs485 and --rtscts both drive RTS: choose one");
  }
  return keep_running;
}

// Returns keep_running, or the exit code to leave with.
int read_options(int argc, char** argv, BridgeOptions* options) {
  const char* values[flag_count];
  const ParseOutcome outcome = parse_flags(program, flag_specs, values, argc, argv);
  if (outcome == ParseOutcome::help_shown) return exit_ok;
  if (outcome == ParseOutcome::usage_error) return exit_usage;
  // Under socket activation the unit's sockets named "clients" and "metrics" stand in for the flags.
  const bool clients_passed = emio::systemd::listen_fd_index("clients") >= 0;
  const bool metrics_passed = emio::systemd::listen_fd_index("metrics") >= 0;
  for (const Flag required : {flag_serial, flag_listen, flag_metrics}) {
    if ((required == flag_listen && clients_passed) || (required == flag_metrics && metrics_passed)) continue;
    if (values[required] == nullptr) {
      return usage_error(program, "--%s %s is required", flag_specs[required].name, flag_specs[required].value_name);
    }
  }
  options->bridge.serial_path = values[flag_serial];
  if (values[flag_listen] != nullptr && !parse_address_flag(program, "listen", values[flag_listen], &options->listen)) {
    return exit_usage;
  }
  if (values[flag_metrics] != nullptr &&
      !parse_address_flag(program, "metrics", values[flag_metrics], &options->metrics)) {
    return exit_usage;
  }
  if (!parse_backend_flag(program, values[flag_backend], &options->backend)) return exit_usage;
  if (const int code = read_numbers(values, options); code != keep_running) return code;
  if (const int code = read_serial_modes(values, &options->bridge.serial); code != keep_running) return code;
  options->bridge.lock_memory = values[flag_lock_memory] != nullptr;
  if (const int code = check_memory_cap(*options); code != keep_running) return code;
  return read_policy(values[flag_slow_client], &options->bridge);
}

// A serial device that cannot be opened as the command line asks is the operator's input to fix.
int serial_open_error(const BridgeConfig& config, emio::Error error) {
  if (error == emio::Error::from_errno(EINVAL)) {
    return usage_error(program, "--baud: %" PRIu32 " is not a baud rate %s supports", config.serial.baud_rate,
                       config.serial_path);
  }
  if (error == emio::Error::from_errno(ENOTSUP)) {
    return usage_error(program, "--serial: %s cannot take the framing, flow control or RS-485 asked for: %s",
                       config.serial_path, error.description());
  }
  return usage_error(program, "--serial: cannot open %s: %s (%s)", config.serial_path, error.name(),
                     error.description());
}

// Bridge::init, and the start-up line saying what it reserved.
int reserve_memory(const BridgeConfig& config, Bridge& bridge) {
  const emio::Error error = bridge.init(config);
  if (error == emio::Error::no_storage) {
    std::fprintf(stderr, "%s: not enough memory for %" PRIu32 " clients\n", program, config.max_clients);
    return exit_failure;
  }
  if (error.failed()) {  // mlock's: the operator's limit to raise, like a serial port's permissions
    return usage_error(program,
                       "--lock-memory: cannot lock the buffers of %" PRIu64 " bytes reserved: %s (see RLIMIT_MEMLOCK)",
                       Bridge::reserved_bytes_for(config), error.name());
  }
  std::printf("%s: reserved %" PRIu64 " bytes for %" PRIu32 " clients%s\n", program, bridge.reserved_bytes(),
              config.max_clients, config.lock_memory ? ", locked" : "");
  return keep_running;
}

struct Daemon {
  Bridge bridge;
  MetricsServer metrics;
  const char* backend_name = "";
};

void print_metric(char*& cursor, char* end, const char* name, const char* type, const char* help, uint64_t value) {
  const int written =
      std::snprintf(cursor, static_cast<size_t>(end - cursor), "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name,
                    help, name, type, name, value);
  if (written > 0) cursor += written < end - cursor ? written : end - cursor - 1;
}

size_t render_metrics(std::span<char> text, void* context) {
  const Daemon& daemon = *static_cast<const Daemon*>(context);
  const BridgeCounters& counters = daemon.bridge.counters();
  char* cursor = text.data();
  char* const end = text.data() + text.size();
  print_metric(cursor, end, "emio_bridge_serial_read_bytes_total", "counter", "Bytes read from the serial port.",
               counters.serial_read_bytes);
  print_metric(cursor, end, "emio_bridge_serial_written_bytes_total", "counter",
               "Bytes written to the serial port, from every client.", counters.serial_written_bytes);
  print_metric(cursor, end, "emio_bridge_clients_connected", "gauge", "Clients connected now.",
               daemon.bridge.clients_connected());
  print_metric(cursor, end, "emio_bridge_clients_accepted_total", "counter", "Clients accepted.",
               counters.clients_accepted);
  print_metric(cursor, end, "emio_bridge_clients_refused_total", "counter",
               "Clients closed at once for lack of a free slot.", counters.clients_refused);
  print_metric(cursor, end, "emio_bridge_accept_failures_total", "counter",
               "Failed accepts of clients (out of fds: the listener backs off 100 ms).",
               daemon.bridge.accept_failures());
  print_metric(cursor, end, "emio_bridge_slow_client_drops_total", "counter",
               "Times serial bytes did not fit a slow client's buffer (drop policy).", counters.slow_client_drops);
  print_metric(cursor, end, "emio_bridge_slow_client_dropped_bytes_total", "counter",
               "Serial bytes dropped for slow clients (drop policy).", counters.slow_client_dropped_bytes);
  print_metric(cursor, end, "emio_bridge_slow_client_disconnects_total", "counter",
               "Clients disconnected for being slow (disconnect policy).", counters.slow_client_disconnects);
  print_metric(cursor, end, "emio_bridge_serial_reopens_total", "counter",
               "Serial port reopens (SIGHUP, or recovery after an error).", counters.serial_reopens);
  print_metric(cursor, end, "emio_bridge_serial_errors_total", "counter", "Serial port read or write failures.",
               counters.serial_errors);
  print_metric(cursor, end, "emio_bridge_client_half_closes_total", "counter",
               "Clients whose sending side ended (a half-close or a close), kept receiving for the linger.",
               counters.client_half_closes);
  print_metric(cursor, end, "emio_bridge_half_close_lingers_expired_total", "counter",
               "Half-closed clients closed when --half-close-linger-ms passed.", counters.half_close_lingers_expired);
  print_metric(cursor, end, "emio_bridge_reserved_bytes", "gauge",
               "Memory reserved and touched at start-up for the client table and buffers.",
               daemon.bridge.reserved_bytes());
  print_metric(cursor, end, "emio_bridge_metrics_requests_refused_total", "counter",
               "Metrics connections answered 503 at once: every session was busy.", daemon.metrics.requests_refused());
  print_metric(cursor, end, "emio_bridge_metrics_slow_requests_total", "counter",
               "Metrics requests answered 408 and closed: too slow, or evicted while incomplete.",
               daemon.metrics.slow_requests_closed());
  const int written = std::snprintf(cursor, static_cast<size_t>(end - cursor),
                                    "# HELP emio_bridge_backend_info The IO backend in use.\n"
                                    "# TYPE emio_bridge_backend_info gauge\n"
                                    "emio_bridge_backend_info{backend=\"%s\"} 1\n",
                                    daemon.backend_name);
  if (written > 0) cursor += written < end - cursor ? written : end - cursor - 1;
  return static_cast<size_t>(cursor - text.data());
}

// The socket systemd passed under `fd_name`, else one bound to `address`.
bool open_listener(emio::Executor& executor, const char* fd_name, const emio::SocketAddress& address,
                   emio::TcpListener* listener) {
  bool adopted = false;
  if (!adopt_activated_listener(program, executor, fd_name, false, listener, &adopted)) return false;
  return adopted || bind_listener(program, executor, address, listener);
}

// SIGHUP (systemctl reload): the reload is the serial port's reopen, announced to systemd around it
// (RELOADING=1 with MONOTONIC_USEC, as sd_notify(3) asks, then READY=1).
void on_signal(int signal_number, void* context) {
  if (signal_number != SIGHUP) return;
  char reloading[64];
  (void)std::snprintf(reloading, sizeof reloading, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
                      emio::monotonic_now_ns() / 1000);
  (void)emio::systemd::notify(reloading);
  static_cast<Daemon*>(context)->bridge.reopen_serial();
  (void)emio::systemd::notify("READY=1\nSTATUS=bridging");
}

}  // namespace

int main(int argc, char** argv) {
  BridgeOptions options;
  if (const int code = read_options(argc, argv, &options); code != keep_running) return code;

  emio::Executor executor;
  const uint32_t connection_capacity = options.bridge.max_clients + MetricsServer::session_capacity;
  emio::ExecutorConfig executor_sizes = executor_config(options.backend, connection_capacity, 4);
  // Beside the shared ones: a linger timer per client and a request deadline per metrics session.
  executor_sizes.timer_capacity += connection_capacity;
  if (!start_executor(program, executor, executor_sizes)) return exit_failure;
  // Beside the clients: the metrics sessions, stdio, the poller and its wake event, signals, the serial
  // port, two listeners and a client being turned away.
  if (!fit_open_file_limit(program, "max-clients", options.bridge.max_clients, 16 + MetricsServer::session_capacity)) {
    return exit_usage;
  }
  Daemon daemon;  // destroyed before the executor: its sources deregister from a live driver
  daemon.backend_name = executor.backend_name();
  if (const int code = reserve_memory(options.bridge, daemon.bridge); code != keep_running) return code;
  if (const emio::Error error = daemon.bridge.open_serial(executor); error.failed()) {
    return serial_open_error(options.bridge, error);
  }
  std::optional<emio::SignalListener> signals;
  if (!start_signal_task(program, executor, signals, emio::SignalSet().with(SIGHUP), on_signal, &daemon)) {
    return exit_failure;
  }
  emio::TcpListener listener;
  emio::TcpListener metrics_listener;
  if (!open_listener(executor, "clients", options.listen, &listener) ||
      !open_listener(executor, "metrics", options.metrics, &metrics_listener)) {
    return exit_failure;
  }
  std::printf("%s: serial %s at %" PRIu32 " baud, slow clients: %s\n", program, options.bridge.serial_path,
              options.bridge.serial.baud_rate,
              options.bridge.slow_client_policy == SlowClientPolicy::drop ? "drop" : "disconnect");
  print_bound_address(program, "listening", listener);
  print_bound_address(program, "metrics", metrics_listener);
  daemon.bridge.start(std::move(listener));
  daemon.metrics.start(executor, std::move(metrics_listener), render_metrics, &daemon,
                       options.metrics_request_timeout_ms);

  emio::systemd::Watchdog watchdog;  // WATCHDOG=1 from the loop's timers while WatchdogSec= is set
  if (const emio::Error error = watchdog.start(executor); error.failed()) {
    std::fprintf(stderr, "%s: cannot start the watchdog: %s\n", program, error.name());
    return exit_failure;
  }
  notify_ready("bridging");
  const emio::Error ran = executor.run();
  notify_stopping();
  watchdog.stop();
  daemon.bridge.close_all();
  daemon.metrics.close_all();
  const BridgeCounters& counters = daemon.bridge.counters();
  std::printf("%s: stopped: %" PRIu64 " bytes from serial, %" PRIu64 " bytes to serial, %" PRIu64 " clients served\n",
              program, counters.serial_read_bytes, counters.serial_written_bytes, counters.clients_accepted);
  return exit_code_after_run(program, ran);
}
