// SPDX-License-Identifier: MIT
// emio-echo: a TCP echo server on the emio runtime.
//   emio-echo --listen 127.0.0.1:7000 [--backend NAME] [--max-connections N]
// Prints the backend in use and the bound address at start-up; SIGTERM or SIGINT closes every
// connection and exits 0; SIGHUP and SIGPIPE are ignored. Bad flags: one line on stderr, exit 2; a
// failure at start-up (port in use, no memory): one line on stderr, exit 1. Windows: Ctrl-C (SIGINT, the
// runtime's console signal source) and closing the console (SIGTERM) stop it the same way; no SIGHUP, no
// systemd.
#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <optional>

#include "common/command_line.h"
#include "common/daemon_setup.h"
#include "common/signal_task.h"
#include "echo/echo_server.h"
#include "emio/port/log.h"

namespace {

using namespace emio_examples;

constexpr const char* program = "emio-echo";

enum Flag { flag_listen, flag_backend, flag_max_connections, flag_coop_budget, flag_count };
constexpr FlagSpec flag_specs[flag_count] = {
    {"listen", "ADDR:PORT", "address to listen on (required unless systemd passes the socket; port 0: any)"},
    {"backend", "NAME", "IO backend, among those compiled in (default: the build's)"},
    {"max-connections", "N", "connections served at once; more are closed at once (default 64)"},
    {"coop-budget", "N", "transfers a connection makes in a row before the others' turn (default 128; 0: off)"},
};

constexpr const char* help_notes =
    "signals: SIGTERM, SIGINT: close every connection and exit 0; SIGHUP: ignored (there is nothing to reload);\n"
    "         SIGPIPE: ignored.\n"
    "exit codes: 0 stopped by a signal; 1 could not start or run (port in use, out of memory); 2 bad command line.\n";

// Other fds than connections: stdio, the poller and its wake event, the signal fd, the listener, and a
// connection being turned away.
constexpr uint32_t other_fds = 16;

// SIGHUP conventionally asks a daemon to reload; emio-echo has no configuration to reload, and a daemon
// killed by a stray SIGHUP (its terminal closed, a careless `pkill -HUP`) would drop every client.
void on_signal(int signal_number, void*) {
  if (reload_signals().contains(signal_number))
    emio::log_message(emio::LogLevel::info, "SIGHUP ignored: nothing to reload");
}

struct EchoOptions {
  emio::SocketAddress listen;
  uint32_t max_connections = 64;
  emio::BackendChoice backend = emio::BackendChoice::automatic;
  uint32_t coop_budget = 128;
  bool socket_activated = false;  // systemd passed the listening socket (emio-echo.socket)
};

// Returns keep_running, or the exit code to leave with.
int read_options(int argc, char** argv, EchoOptions* options) {
  const char* values[flag_count];
  const ParseOutcome outcome = parse_flags(program, flag_specs, values, argc, argv, help_notes);
  if (outcome == ParseOutcome::help_shown) return exit_ok;
  if (outcome == ParseOutcome::usage_error) return exit_usage;
  options->socket_activated = socket_activated();
  if (values[flag_listen] == nullptr && !options->socket_activated) {
    return usage_error(program, "--listen ADDR:PORT is required (or a socket from systemd)");
  }
  if (values[flag_listen] != nullptr && !parse_address_flag(program, "listen", values[flag_listen], &options->listen)) {
    return exit_usage;
  }
  if (!parse_backend_flag(program, values[flag_backend], &options->backend)) return exit_usage;
  if (values[flag_max_connections] != nullptr &&
      !parse_unsigned(values[flag_max_connections], 1, 60000, &options->max_connections)) {
    return usage_error(program, "--max-connections: '%s' is not a number from 1 to 60000",
                       values[flag_max_connections]);
  }
  if (values[flag_coop_budget] != nullptr &&
      !parse_unsigned(values[flag_coop_budget], 0, 65535, &options->coop_budget)) {
    return usage_error(program, "--coop-budget: '%s' is not a number from 0 to 65535", values[flag_coop_budget]);
  }
  return keep_running;
}

// Buffers are shared, not per connection: a connection holds one only from a receive until its echo is
// sent, so the memory of an idle connection does not grow with the buffer size. On io_uring: a ring of
// receive buffers and a pool of send buffers; on readiness: the read views' pool. An echo request bigger
// than a buffer is read and written back in several pieces. More requests than buffers at once wait for
// one (on the ring, a receive that finds it empty tries again after 1 ms).
constexpr uint32_t max_native_connections = 4096;
constexpr uint32_t native_buffer_bytes = 2048;
constexpr uint32_t buffers_in_flight = 512;
constexpr uint32_t read_view_buffer_bytes = 4096;

}  // namespace

int main(int argc, char** argv) {
  EchoOptions options;
  if (const int code = read_options(argc, argv, &options); code != keep_running) return code;

  emio::Executor executor;
  emio::ExecutorConfig config = executor_config(options.backend, options.max_connections, 2);
  config.coop_budget = static_cast<uint16_t>(options.coop_budget);
  // On io_uring the connections read and write through the ring (batched, no recv/send calls); past
  // this many at once the others use readiness. The listener accepts through the ring too (the default
  // listener_capacity: see native_stream.h), with no accept4 per connection.
  config.native_streams = {.capacity = std::min(options.max_connections, max_native_connections),
                           .buffer_bytes = native_buffer_bytes,
                           .listener_capacity = emio::NativeStreamOptions{}.listener_capacity,
                           .receive_buffers = buffers_in_flight,
                           .send_buffers = buffers_in_flight};
  config.read_view_buffers = {buffers_in_flight, read_view_buffer_bytes};
  if (!start_executor(program, executor, config)) return exit_failure;
  if (!fit_open_file_limit(program, "max-connections", options.max_connections, other_fds)) return exit_usage;
  std::optional<emio::SignalListener> signals;
  if (!start_signal_task(program, executor, signals, reload_signals(), on_signal)) return exit_failure;
  EchoServer server;  // destroyed before the executor: its connections deregister from a live driver
  if (server.init(options.max_connections).failed()) {
    std::fprintf(stderr, "%s: not enough memory for %" PRIu32 " connections\n", program, options.max_connections);
    return exit_failure;
  }
  emio::TcpListener listener;
  bool adopted = false;
  if (!adopt_activated_listener(program, executor, "echo", true, &listener, &adopted)) return exit_failure;
  if (!adopted && !bind_listener(program, executor, options.listen, &listener)) return exit_failure;
  print_bound_address(program, adopted ? "listening (socket from systemd)" : "listening", listener);
  if (server.start(executor, std::move(listener)).failed()) {
    std::fprintf(stderr, "%s: cannot start the accept task\n", program);
    return exit_failure;
  }

  ServiceWatchdog watchdog;  // WATCHDOG=1 from the loop's timers while WatchdogSec= is set
  if (!watchdog.start(program, executor)) return exit_failure;
  notify_ready("echoing");
  const emio::Error ran = executor.run();
  notify_stopping();
  watchdog.stop();
  server.close_all();
  const EchoCounters& counters = server.counters();
  std::printf("%s: stopped: %" PRIu64 " connections served, %" PRIu64 " turned away, %" PRIu64 " bytes echoed, %" PRIu64
              " cooperative yields\n",
              program, counters.connections_served, counters.connections_turned_away, counters.bytes_echoed,
              executor.stats().coop_yields);
  return exit_code_after_run(program, ran);
}
