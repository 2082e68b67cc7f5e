// SPDX-License-Identifier: MIT
// The contract every peer echo server follows, so that the servers differ only in their event loop:
//   NAME PORT [--max-seconds S]
// - listens on 127.0.0.1:PORT (0 picks a free port) and prints "NAME: listening on 127.0.0.1:PORT" once bound,
//   the line emio-echo prints, so one script starts them all;
// - one thread; every accepted connection gets TCP_NODELAY (a 64-byte echo must not wait for Nagle);
// - reads up to peer_buffer_bytes at a time and writes back all it read before it reads again;
// - SIGTERM or SIGINT: exits 0. After S seconds (default 300) it stops by itself and exits 1, so that a
//   forgotten server never outlives its benchmark. Bad command line: one line on stderr, exit 2. Cannot
//   start (port in use): one line on stderr, exit 1. SIGPIPE is ignored (a client may vanish mid-write).
// - the soft limit on open files is raised to the hard one, for the connection table's sake.
// The stop signals arrive on a signalfd that each loop watches like any other fd: no signal handler runs
// inside the loops, and the cost per request is the loop's own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace emio_peers {

inline constexpr size_t peer_buffer_bytes = size_t{16} * 1024;
// Connections are kept in fixed tables indexed by fd, room for the 10,000 idle connections of the memory
// pass; an fd past the table is accepted and closed at once. The tables are .bss: untouched until used.
inline constexpr int connection_table_fds = 10100;
inline constexpr int listen_backlog = 1024;

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

struct PeerSockets {
  int listener_fd = -1;  // non-blocking, bound and listening
  int stop_fd = -1;      // a non-blocking signalfd: readable once it is time to stop
};

// Parses the command line, blocks the stop signals and routes them to stop_fd, arms the time bound, binds
// the listener and prints the start-up line. On failure it has printed one line and returns the exit code
// to leave with; on success it returns -1.
int start_peer(const char* name, int argc, char** argv, PeerSockets* sockets);

// Reads the signal that made stop_fd readable and returns the exit code it stands for (exit_ok for SIGTERM
// and SIGINT; exit_failure, with a line on stderr, when the time bound ran out).
int exit_code_for_stop(const char* name, int stop_fd);

// Raises the soft limit on open files to the hard one: thousands of connections need more than the usual
// soft limit of 1024 (the servers' tables, the load generator's connections).
void raise_open_file_limit();

// TCP_NODELAY on an accepted connection.
void set_no_delay(int fd);

inline constexpr int accept_nothing_pending = -1;  // EAGAIN, or an error that retrying now would repeat
inline constexpr int accept_turned_away = -2;      // its fd did not fit the connection table: closed

// accept4 of one pending connection, non-blocking and close-on-exec, with TCP_NODELAY set. Returns the fd,
// accept_nothing_pending or accept_turned_away.
int accept_connection(int listener_fd);

}  // namespace emio_peers
