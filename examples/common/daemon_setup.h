// SPDX-License-Identifier: MIT
// What both example daemons do the same way at start-up: read the shared flags (addresses, --backend),
// size the executor, and print the start-up lines that operators and the end-to-end tests read:
//   PROGRAM: backend epoll
//   PROGRAM: listening on 127.0.0.1:7000     (the address really bound: port 0 becomes the kernel's pick)
#pragma once

#include <cstdint>

#include "emio/driver/backend_config.h"
#include "emio/runtime/address.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/signals.h"
#include "emio/runtime/stream.h"

#if !defined(_WIN32)
#include "emio/runtime/systemd.h"
#endif

namespace emio_examples {

// Parses --FLAG's ADDR:PORT (IPv4, or [IPv6] in brackets); prints the usage error and returns false on
// anything else.
bool parse_address_flag(const char* program, const char* flag, const char* text, emio::SocketAddress* address);

// Reads --backend (nullptr: automatic) and checks that this build has it. Prints the usage error and
// returns false for any other name.
bool parse_backend_flag(const char* program, const char* text, emio::BackendChoice* choice);

// Makes room under RLIMIT_NOFILE for `connection_capacity` connections and `other_fds` more (listeners,
// the poller, signals, the serial port, stdio): raises the soft limit toward the hard one when needed and
// says so in one line; when even the hard limit is too low, prints a usage error naming `flag` and
// returns false (exit_usage), instead of failing accept() with EMFILE later.
bool fit_open_file_limit(const char* program, const char* flag, uint32_t connection_capacity, uint32_t other_fds);

// How many of each thing a daemon serving `connection_capacity` connections needs; every table is
// allocated once, in Executor::init. `extra_sources` counts listeners, signals, serial ports and the like.
emio::ExecutorConfig executor_config(emio::BackendChoice backend, uint32_t connection_capacity, uint32_t extra_sources);

// Ignores SIGPIPE process-wide (a write to a pipe or tty whose reader is gone then fails with EPIPE
// instead of killing the daemon; ignore_broken_pipes), makes stdout line-buffered (start-up lines reach a pipe or a log
// at once), routes the library's log messages to stdout as "PROGRAM: MESSAGE" (errors to stderr), starts the executor
// and prints "PROGRAM: backend NAME"; prints "PROGRAM: cannot start: REASON" and returns false on failure.
bool start_executor(const char* program, emio::Executor& executor, const emio::ExecutorConfig& config);

// SIGPIPE ignored process-wide (nothing to do on Windows, which has none).
void ignore_broken_pipes();

// The signals that ask a daemon to reload: SIGHUP; none on Windows.
emio::SignalSet reload_signals();

// Whether the service manager passed listening sockets (systemd's LISTEN_FDS; never on Windows).
bool socket_activated();

// Binds a TCP listener; prints "PROGRAM: cannot listen on ADDR: REASON" and returns false on failure.
bool bind_listener(const char* program, emio::Executor& executor, const emio::SocketAddress& address,
                   emio::TcpListener* listener);

// The exit code once Executor::run returned `ran`: exit_ok after a stop, or exit_failure with the
// reason on stderr.
int exit_code_after_run(const char* program, emio::Error ran);

// Under socket activation (systemd passed sockets, LISTEN_FDS): adopts the socket named `fd_name`
// (FileDescriptorName= in the .socket unit), or the first one when `first_if_unnamed` and no socket has
// that name, as *listener and sets *adopted. Not activated: *adopted false, nothing else. Prints
// "PROGRAM: cannot use the socket systemd passed as FD_NAME: REASON" and returns false on failure.
bool adopt_activated_listener(const char* program, emio::Executor& executor, const char* fd_name, bool first_if_unnamed,
                              emio::TcpListener* listener, bool* adopted);

// sd_notify's READY=1 with STATUS=`status`, once the daemon serves; STOPPING=1 when it stops. Nothing
// outside systemd; a failed notification is logged, never fatal.
void notify_ready(const char* status);
void notify_stopping();

// The service manager's watchdog, fed from the loop's timers: systemd's while WatchdogSec= is set (else it
// does nothing); none on Windows. start prints "PROGRAM: cannot start the watchdog: REASON" on failure.
class ServiceWatchdog {
 public:
  bool start(const char* program, emio::Executor& executor);
  void stop();

 private:
#if !defined(_WIN32)
  emio::systemd::Watchdog watchdog_;
#endif
};

// "PROGRAM: WHAT on ADDR:PORT" with the listener's bound address.
void print_bound_address(const char* program, const char* what, const emio::TcpListener& listener);

}  // namespace emio_examples
