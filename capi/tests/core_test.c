// SPDX-License-Identifier: MIT
/* The C API's behaviours, one per test case, in C99 as a firmware caller would write them: errors, TCP,
 * connecting, timers, watches and the daemon helpers (the other *_test.c files: serial ports, datagrams,
 * Unix listeners, the watchdog). Usage: emio_capi_core_tests CASE. Exit 0 when the case holds. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 */
#if defined(__APPLE__)
#define _DARWIN_C_SOURCE /* POSIX alone hides INADDR_LOOPBACK and MSG_DONTWAIT there */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emio.h"
#include "emio/config.h"
#include "harness.h"

/* --- Errors --- */

static void strerror_names_errno_values_and_emio_codes(void) {
  CHECK(strcmp(emio_strerror(0), "ok") == 0);
  CHECK(strcmp(emio_strerror(-ECONNREFUSED), "ECONNREFUSED") == 0);
  CHECK(strcmp(emio_strerror(EMIO_EREGISTRATIONS_FULL), "emio: registrations full") == 0);
  CHECK(strcmp(emio_strerror(-EISDIR), "EISDIR") == 0);
  CHECK(strcmp(emio_strerror(-200), "errno (unnamed)") == 0); /* no errno has that value */
  CHECK(strcmp(emio_describe(-ECONNREFUSED), "Connection refused") == 0);
  CHECK(strchr(emio_describe(-200), '\n') == NULL); /* static, one line, whatever the value */
}

static void init_rejects_an_unknown_backend(void) {
  emio_runtime_config config;
  emio_runtime_config_default(&config);
  config.backend = "carrier-pigeon";
  CHECK(emio_runtime_init(&runtime, &config) == EMIO_EBACKEND);
}

/* --- TCP --- */

static void listen_rejects_a_host_name(void) {
  emio_tcp_listener listener;
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &listener, "localhost:7000") == -EINVAL);
  emio_runtime_destroy(&runtime);
}

static void listen_reports_an_address_in_use(void) {
  emio_tcp_listener first, second;
  char address[112];
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &first, "127.0.0.1:0") == EMIO_OK);
  CHECK(emio_tcp_listener_address(&first, address, sizeof address) == EMIO_OK);
  CHECK(emio_tcp_listen(&runtime, &second, address) == -EADDRINUSE);
  emio_tcp_listener_close(&first);
  emio_runtime_destroy(&runtime);
}

/* A listener, an accepted stream and the plain POSIX client socket at its other end. */
static emio_tcp_listener listener;
static emio_stream server_side;
static int client_fd = -1;
static int accepted;

static void on_accept(emio_tcp_listener* on, int status, void* context) {
  (void)on;
  (void)context;
  CHECK(status == EMIO_OK);
  accepted = 1;
}

static void connect_pair(void) {
  char address[112];
  struct sockaddr_in peer;
  socklen_t length = sizeof peer;
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &listener, "127.0.0.1:0") == EMIO_OK);
  CHECK(emio_tcp_listener_address(&listener, address, sizeof address) == EMIO_OK);
  memset(&peer, 0, sizeof peer);
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  peer.sin_port = htons((uint16_t)atoi(strrchr(address, ':') + 1));
  client_fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(client_fd, (struct sockaddr*)&peer, length) == 0);
  CHECK(emio_tcp_accept(&listener, &server_side, on_accept, NULL) == EMIO_OK);
  run_until(&accepted, 1);
}

static void close_pair(void) {
  emio_stream_close(&server_side);
  emio_tcp_listener_close(&listener);
  emio_runtime_destroy(&runtime);
  if (client_fd >= 0) close(client_fd);
}

static long io_result;
static int io_calls;
static void on_io(emio_stream* stream, long result, void* context) {
  (void)stream;
  (void)context;
  io_result = result;
  io_calls += 1;
}

static void read_delivers_what_the_peer_sent(void) {
  char buffer[16];
  connect_pair();
  CHECK(write(client_fd, "ping", 4) == 4);
  CHECK(emio_stream_read(&server_side, buffer, sizeof buffer, on_io, NULL) == EMIO_OK);
  run_until(&io_calls, 1);
  CHECK(io_result == 4 && memcmp(buffer, "ping", 4) == 0);
  close_pair();
}

static void read_reports_end_of_stream_as_zero(void) {
  char buffer[16];
  connect_pair();
  close(client_fd);
  client_fd = -1;
  CHECK(emio_stream_read(&server_side, buffer, sizeof buffer, on_io, NULL) == EMIO_OK);
  run_until(&io_calls, 1);
  CHECK(io_result == 0);
  close_pair();
}

static void a_second_read_while_one_is_pending_is_busy(void) {
  char buffer[16];
  connect_pair();
  CHECK(emio_stream_read(&server_side, buffer, sizeof buffer, on_io, NULL) == EMIO_OK);
  CHECK(emio_stream_read(&server_side, buffer, sizeof buffer, on_io, NULL) == -EBUSY);
  close_pair();
}

static void closing_a_stream_cancels_its_pending_read(void) {
  char buffer[16];
  connect_pair();
  CHECK(emio_stream_read(&server_side, buffer, sizeof buffer, on_io, NULL) == EMIO_OK);
  CHECK(write(client_fd, "late", 4) == 4);
  emio_stream_close(&server_side);
  run_a_few_turns(5);
  CHECK(io_calls == 0);
  emio_tcp_listener_close(&listener);
  emio_runtime_destroy(&runtime);
  close(client_fd);
}

/* 4 MB: more than the socket buffers hold, so the write must wait for the reader several times. */
#define BULK_BYTES (4 * 1024 * 1024)
static char bulk[BULK_BYTES];

static void write_sends_every_byte(void) {
  static char received[BULK_BYTES];
  size_t got = 0;
  int turn;
  connect_pair();
  memset(bulk, 'x', sizeof bulk);
  CHECK(emio_stream_write(&server_side, bulk, sizeof bulk, on_io, NULL) == EMIO_OK);
  for (turn = 0; turn < 100000 && got < sizeof received; ++turn) {
    ssize_t n;
    CHECK(emio_runtime_run_once(&runtime, 0) == EMIO_OK);
    n = recv(client_fd, received + got, sizeof received - got, MSG_DONTWAIT);
    if (n > 0) got += (size_t)n;
  }
  run_until(&io_calls, 1);
  CHECK(got == sizeof received && io_result == BULK_BYTES);
  close_pair();
}

/* --- Connecting --- */

static int connect_status = 1;
static int connect_calls;
static void on_connect(emio_stream* stream, int status, void* context) {
  (void)stream;
  (void)context;
  connect_status = status;
  connect_calls += 1;
}

static void tcp_connect_reaches_a_listener(void) {
  emio_stream client;
  char address[112];
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &listener, "127.0.0.1:0") == EMIO_OK);
  CHECK(emio_tcp_listener_address(&listener, address, sizeof address) == EMIO_OK);
  CHECK(emio_tcp_accept(&listener, &server_side, on_accept, NULL) == EMIO_OK);
  CHECK(emio_tcp_connect(&runtime, &client, address, on_connect, NULL) == EMIO_OK);
  run_until(&connect_calls, 1);
  run_until(&accepted, 1);
  CHECK(connect_status == EMIO_OK);
  CHECK(write(emio_stream_fd(&client), "hi", 2) == 2); /* the connected socket is the stream's now */
  emio_stream_close(&client);
  close_pair();
}

static void tcp_connect_reports_a_refused_connection(void) {
  emio_stream client;
  char address[112];
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &listener, "127.0.0.1:0") == EMIO_OK);
  CHECK(emio_tcp_listener_address(&listener, address, sizeof address) == EMIO_OK);
  emio_tcp_listener_close(&listener); /* nobody listens on that port now */
  CHECK(emio_tcp_connect(&runtime, &client, address, on_connect, NULL) == EMIO_OK);
  run_until(&connect_calls, 1);
#if defined(EMIO_BACKEND_KQUEUE) && defined(__linux__)
  /* libkqueue reads the socket's SO_ERROR into the event it reports, so the reason is gone when the
   * connect is looked at: ENOTCONN, as for the C++ TcpStream (docs/design.md, "The kqueue backend"). */
  CHECK(connect_status == -ECONNREFUSED || connect_status == -ENOTCONN);
#else
  CHECK(connect_status == -ECONNREFUSED);
#endif
  emio_stream_close(&client);
  emio_runtime_destroy(&runtime);
}

static void reads_before_the_connect_completes_are_not_connected(void) {
  emio_stream client;
  char buffer[4];
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &listener, "127.0.0.1:0") == EMIO_OK);
  CHECK(emio_tcp_connect(&runtime, &client, "127.0.0.1:9", on_connect, NULL) == EMIO_OK);
  CHECK(emio_stream_read(&client, buffer, sizeof buffer, on_io, NULL) == -ENOTCONN);
  emio_stream_close(&client); /* cancels the connect: no callback */
  CHECK(emio_runtime_run_once(&runtime, 10) == EMIO_OK && connect_calls == 0);
  emio_tcp_listener_close(&listener);
  emio_runtime_destroy(&runtime);
}

static void unix_connect_reports_a_missing_socket(void) {
  emio_stream client;
  init_runtime();
  CHECK(emio_unix_connect(&runtime, &client, "/tmp/emio-no-such-socket", on_connect, NULL) == -ENOENT);
  emio_runtime_destroy(&runtime);
}

static void unix_connect_reaches_a_listening_socket(void) {
  emio_stream client;
  struct sockaddr_un local;
  char path[64];
  const int listening = socket(AF_UNIX, SOCK_STREAM, 0);
  int peer;
  snprintf(path, sizeof path, "/tmp/emio-capi-%ld.sock", (long)getpid());
  memset(&local, 0, sizeof local);
  local.sun_family = AF_UNIX;
  strncpy(local.sun_path, path, sizeof local.sun_path - 1);
  unlink(path);
  CHECK(bind(listening, (struct sockaddr*)&local, sizeof local) == 0 && listen(listening, 1) == 0);
  init_runtime();
  CHECK(emio_unix_connect(&runtime, &client, path, on_connect, NULL) == EMIO_OK);
  run_until(&connect_calls, 1);
  CHECK(connect_status == EMIO_OK);
  peer = accept(listening, NULL, NULL);
  CHECK(peer >= 0);
  emio_stream_close(&client);
  emio_runtime_destroy(&runtime);
  close(peer);
  close(listening);
  unlink(path);
}

/* --- Timers --- */

static int fired_order[3];
static int fired_count;
static void on_timer(emio_timer* timer, void* context) {
  (void)timer;
  fired_order[fired_count++] = *(const int*)context;
}

static void timers_fire_in_deadline_order(void) {
  static emio_timer timers[3];
  static const int names[3] = {1, 2, 3};
  static const uint32_t delays_ms[3] = {30, 10, 20};
  int i;
  init_runtime();
  for (i = 0; i < 3; ++i) {
    emio_timer_init(&runtime, &timers[i]);
    CHECK(emio_timer_start(&timers[i], delays_ms[i], 0, on_timer, (void*)&names[i]) == EMIO_OK);
  }
  run_until(&fired_count, 3);
  CHECK(fired_order[0] == 2 && fired_order[1] == 3 && fired_order[2] == 1);
  for (i = 0; i < 3; ++i) emio_timer_close(&timers[i]);
  emio_runtime_destroy(&runtime);
}

static void a_stopped_timer_never_fires(void) {
  static emio_timer stopped, witness;
  static const int stopped_name = 1, witness_name = 2;
  init_runtime();
  emio_timer_init(&runtime, &stopped);
  emio_timer_init(&runtime, &witness);
  CHECK(emio_timer_start(&stopped, 10, 0, on_timer, (void*)&stopped_name) == EMIO_OK);
  CHECK(emio_timer_start(&witness, 20, 0, on_timer, (void*)&witness_name) == EMIO_OK);
  CHECK(emio_timer_stop(&stopped) == 1);
  run_until(&fired_count, 1);
  CHECK(fired_count == 1 && fired_order[0] == witness_name);
  emio_timer_close(&stopped);
  emio_timer_close(&witness);
  emio_runtime_destroy(&runtime);
}

/* --- Streams: the descriptor --- */

static void stream_fd_is_the_connections_descriptor(void) {
  char received[4] = {0};
  connect_pair();
  CHECK(write(emio_stream_fd(&server_side), "fd", 2) == 2);
  CHECK(read(client_fd, received, sizeof received) == 2 && memcmp(received, "fd", 2) == 0);
  close_pair();
}

/* --- Watching any descriptor: a pipe's read end --- */

static emio_watch watch;
static int pipe_fds[2];
static int watch_calls;
static int watched_direction = -1;
static void on_watch(emio_watch* on, int direction, void* context) {
  (void)on;
  (void)context;
  watched_direction = direction;
  watch_calls += 1;
}

static void open_watched_pipe(void) {
  init_runtime();
  CHECK(pipe(pipe_fds) == 0);
  CHECK(emio_watch_open(&runtime, &watch, pipe_fds[0]) == EMIO_OK);
}

static void close_watched_pipe(void) {
  emio_watch_close(&watch); /* closes pipe_fds[0] */
  close(pipe_fds[1]);
  emio_runtime_destroy(&runtime);
}

static void watch_calls_back_when_the_fd_is_readable(void) {
  open_watched_pipe();
  CHECK(emio_watch_arm(&watch, EMIO_READABLE, on_watch, NULL) == EMIO_OK);
  CHECK(write(pipe_fds[1], "g", 1) == 1);
  run_until(&watch_calls, 1);
  CHECK(watched_direction == EMIO_READABLE);
  close_watched_pipe();
}

static void watch_rearmed_after_eagain_waits_for_new_data(void) {
  char byte;
  open_watched_pipe();
  CHECK(write(pipe_fds[1], "g", 1) == 1);
  CHECK(emio_watch_arm(&watch, EMIO_READABLE, on_watch, NULL) == EMIO_OK);
  run_until(&watch_calls, 1);
  CHECK(read(emio_watch_fd(&watch), &byte, 1) == 1);
  CHECK(read(emio_watch_fd(&watch), &byte, 1) == -1 && errno == EAGAIN);
  CHECK(emio_watch_arm(&watch, EMIO_READABLE, on_watch, NULL) == EMIO_OK);
  run_a_few_turns(3);
  CHECK(watch_calls == 1); /* the spent readiness did not call back again */
  CHECK(write(pipe_fds[1], "h", 1) == 1);
  run_until(&watch_calls, 2);
  close_watched_pipe();
}

static void watch_refuses_a_bad_direction(void) {
  open_watched_pipe();
  CHECK(emio_watch_arm(&watch, 7, on_watch, NULL) == -EINVAL);
  close_watched_pipe();
}

/* --- Daemon helpers --- */

static int logged_level = -1;
static char logged[256];
static void on_log(int level, const char* message, void* context) {
  (void)context;
  logged_level = level;
  strncpy(logged, message, sizeof logged - 1);
}

static void log_hook_receives_the_librarys_messages(void) {
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  CHECK(setenv("LISTEN_PID", pid, 1) == 0);
  CHECK(setenv("LISTEN_FDS", "100", 1) == 0); /* more than emio takes: it logs and ignores them */
  emio_set_log_hook(on_log, NULL);
  CHECK(emio_systemd_listen_fd_count() == 0);
  CHECK(logged_level == EMIO_LOG_ERROR && strstr(logged, "LISTEN_FDS=100") != NULL);
  emio_set_log_hook(NULL, NULL);
}

static void systemd_helpers_do_nothing_outside_systemd(void) {
  CHECK(unsetenv("LISTEN_PID") == 0 && unsetenv("NOTIFY_SOCKET") == 0 && unsetenv("WATCHDOG_USEC") == 0);
  CHECK(emio_systemd_listen_fd_count() == 0);
  CHECK(emio_systemd_listen_fd(0) == -1);
  CHECK(emio_systemd_listen_fd_index("echo") == -1);
  CHECK(emio_systemd_notify("READY=1") == EMIO_OK);
  CHECK(emio_systemd_watchdog_interval_us() == 0);
}

static void driver_stats_count_sources_and_turns(void) {
  emio_driver_stats stats;
  connect_pair(); /* the listener and the accepted stream */
  emio_runtime_driver_stats(&runtime, &stats);
  CHECK(stats.live_sources >= 2 && stats.source_capacity == 64 && stats.turns >= 1);
  CHECK(stats.events_dispatched >= 1); /* the accept's readiness */
  close_pair();
}

/* A listening socket made with plain POSIX calls, as systemd would pass it. */
static int posix_socket(int do_listen) {
  struct sockaddr_in local;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, (struct sockaddr*)&local, sizeof local) == 0);
  if (do_listen) CHECK(listen(fd, 4) == 0);
  return fd;
}

static void tcp_listener_adopt_takes_a_listening_socket(void) {
  emio_tcp_listener adopted;
  char address[112];
  init_runtime();
  CHECK(emio_tcp_listener_adopt(&runtime, &adopted, posix_socket(1)) == EMIO_OK);
  CHECK(emio_tcp_listener_address(&adopted, address, sizeof address) == EMIO_OK);
  CHECK(strncmp(address, "127.0.0.1:", 10) == 0);
  emio_tcp_listener_close(&adopted);
  emio_runtime_destroy(&runtime);
}

static void tcp_listener_adopt_refuses_a_socket_not_listening(void) {
  emio_tcp_listener adopted;
  init_runtime();
  CHECK(emio_tcp_listener_adopt(&runtime, &adopted, posix_socket(0)) == -EINVAL);
  emio_runtime_destroy(&runtime);
}

static const struct test_case cases[] = {
    {"strerror_names_errno_values_and_emio_codes", strerror_names_errno_values_and_emio_codes},
    {"init_rejects_an_unknown_backend", init_rejects_an_unknown_backend},
    {"listen_rejects_a_host_name", listen_rejects_a_host_name},
    {"listen_reports_an_address_in_use", listen_reports_an_address_in_use},
    {"read_delivers_what_the_peer_sent", read_delivers_what_the_peer_sent},
    {"read_reports_end_of_stream_as_zero", read_reports_end_of_stream_as_zero},
    {"a_second_read_while_one_is_pending_is_busy", a_second_read_while_one_is_pending_is_busy},
    {"closing_a_stream_cancels_its_pending_read", closing_a_stream_cancels_its_pending_read},
    {"write_sends_every_byte", write_sends_every_byte},
    {"tcp_connect_reaches_a_listener", tcp_connect_reaches_a_listener},
    {"tcp_connect_reports_a_refused_connection", tcp_connect_reports_a_refused_connection},
    {"reads_before_the_connect_completes_are_not_connected", reads_before_the_connect_completes_are_not_connected},
    {"unix_connect_reports_a_missing_socket", unix_connect_reports_a_missing_socket},
    {"unix_connect_reaches_a_listening_socket", unix_connect_reaches_a_listening_socket},
    {"timers_fire_in_deadline_order", timers_fire_in_deadline_order},
    {"a_stopped_timer_never_fires", a_stopped_timer_never_fires},
    {"stream_fd_is_the_connections_descriptor", stream_fd_is_the_connections_descriptor},
    {"watch_calls_back_when_the_fd_is_readable", watch_calls_back_when_the_fd_is_readable},
    {"watch_rearmed_after_eagain_waits_for_new_data", watch_rearmed_after_eagain_waits_for_new_data},
    {"watch_refuses_a_bad_direction", watch_refuses_a_bad_direction},
    {"log_hook_receives_the_librarys_messages", log_hook_receives_the_librarys_messages},
    {"systemd_helpers_do_nothing_outside_systemd", systemd_helpers_do_nothing_outside_systemd},
    {"driver_stats_count_sources_and_turns", driver_stats_count_sources_and_turns},
    {"tcp_listener_adopt_takes_a_listening_socket", tcp_listener_adopt_takes_a_listening_socket},
    {"tcp_listener_adopt_refuses_a_socket_not_listening", tcp_listener_adopt_refuses_a_socket_not_listening},
};

int main(int argc, char** argv) { return run_named_case(cases, sizeof cases / sizeof cases[0], argc, argv); }
