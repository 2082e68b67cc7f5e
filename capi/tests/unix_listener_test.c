// SPDX-License-Identifier: MIT
/* The C API's Unix stream listeners: bound to a path in /tmp (or an abstract name), or adopted. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 */
#define _DARWIN_C_SOURCE  /* macOS: POSIX alone hides INADDR_LOOPBACK there */

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emio.h"
#include "harness.h"

static emio_unix_listener listener;
static emio_stream server_side, client;
static char path[64];
static int accepts, connects;

static void on_accept(emio_unix_listener* on, int status, void* context) {
  (void)on;
  (void)context;
  CHECK(status == EMIO_OK);
  accepts += 1;
}
static void on_connect(emio_stream* stream, int status, void* context) {
  (void)stream;
  (void)context;
  CHECK(status == EMIO_OK);
  connects += 1;
}

static void listen_on_a_fresh_path(void) {
  snprintf(path, sizeof path, "/tmp/emio-capi-%ld-listener.sock", (long)getpid());
  unlink(path);
  init_runtime();
  CHECK(emio_unix_listen(&runtime, &listener, path) == EMIO_OK);
}

static void close_listener(void) {
  emio_unix_listener_close(&listener);
  emio_runtime_destroy(&runtime);
  unlink(path);
}

static void accept_one_client(void) {
  CHECK(emio_unix_accept(&listener, &server_side, on_accept, NULL) == EMIO_OK);
  CHECK(emio_unix_connect(&runtime, &client, path, on_connect, NULL) == EMIO_OK);
  run_until(&accepts, 1);
  run_until(&connects, 1);
}

static void unix_listener_accepts_a_connection_on_its_path(void) {
  char received[4] = {0};
  listen_on_a_fresh_path();
  accept_one_client();
  CHECK(write(emio_stream_fd(&client), "hey", 3) == 3);
  CHECK(read(emio_stream_fd(&server_side), received, 3) == 3 && memcmp(received, "hey", 3) == 0);
  emio_stream_close(&client);
  emio_stream_close(&server_side);
  close_listener();
}

static void unix_listener_address_is_its_path(void) {
  char address[EMIO_ADDRESS_TEXT_SIZE];
  listen_on_a_fresh_path();
  CHECK(emio_unix_listener_address(&listener, address, sizeof address) == EMIO_OK);
  CHECK(strcmp(address, path) == 0);
  close_listener();
}

static void unix_listen_reports_an_existing_path(void) {
  emio_unix_listener second;
  listen_on_a_fresh_path();
  CHECK(emio_unix_listen(&runtime, &second, path) == -EADDRINUSE);
  close_listener();
}

static void unix_listen_rejects_an_ip_address(void) {
  init_runtime();
  CHECK(emio_unix_listen(&runtime, &listener, "127.0.0.1:7000") == -EINVAL);
  emio_runtime_destroy(&runtime);
}

static void unix_listen_reports_a_missing_folder(void) {
  init_runtime();
  CHECK(emio_unix_listen(&runtime, &listener, "/tmp/emio-capi-no-such-folder/app.sock") == -ENOENT);
  CHECK(strcmp(emio_describe(-ENOENT), "No such file or directory") == 0);
  emio_runtime_destroy(&runtime);
}

static void unix_listen_takes_an_abstract_name(void) {
#if !defined(__linux__)
  skip_case("abstract Unix socket names are Linux's");
#else
  char address[EMIO_ADDRESS_TEXT_SIZE];
  snprintf(path, sizeof path, "@emio-capi-%ld", (long)getpid());
  init_runtime();
  CHECK(emio_unix_listen(&runtime, &listener, path) == EMIO_OK);
  CHECK(emio_unix_listener_address(&listener, address, sizeof address) == EMIO_OK);
  CHECK(strcmp(address, path) == 0);
  accept_one_client();
  emio_stream_close(&client);
  emio_stream_close(&server_side);
  emio_unix_listener_close(&listener);
  emio_runtime_destroy(&runtime);
#endif
}

/* A socket made with plain POSIX calls, as systemd would pass it. */
static int posix_unix_listener(const char* at) {
  struct sockaddr_un local;
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  memset(&local, 0, sizeof local);
  local.sun_family = AF_UNIX;
  strncpy(local.sun_path, at, sizeof local.sun_path - 1);
  CHECK(bind(fd, (struct sockaddr*)&local, sizeof local) == 0 && listen(fd, 4) == 0);
  return fd;
}

static void unix_listener_adopt_takes_a_listening_socket(void) {
  snprintf(path, sizeof path, "/tmp/emio-capi-%ld-adopted.sock", (long)getpid());
  unlink(path);
  init_runtime();
  CHECK(emio_unix_listener_adopt(&runtime, &listener, posix_unix_listener(path)) == EMIO_OK);
  accept_one_client();
  emio_stream_close(&client);
  emio_stream_close(&server_side);
  close_listener();
}

static void unix_listener_adopt_refuses_a_tcp_socket(void) {
  const int tcp = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(tcp, (struct sockaddr*)&local, sizeof local) == 0 && listen(tcp, 4) == 0);
  init_runtime();
  CHECK(emio_unix_listener_adopt(&runtime, &listener, tcp) == -EINVAL); /* and tcp is closed */
  emio_runtime_destroy(&runtime);
}

static void unix_accept_on_a_closed_listener_is_stale(void) {
  listen_on_a_fresh_path();
  emio_unix_listener_close(&listener);
  CHECK(emio_unix_accept(&listener, &server_side, on_accept, NULL) == EMIO_ESTALE);
  close_listener(); /* a second close does nothing */
}

static const struct test_case cases[] = {
    {"unix_listener_accepts_a_connection_on_its_path", unix_listener_accepts_a_connection_on_its_path},
    {"unix_listener_address_is_its_path", unix_listener_address_is_its_path},
    {"unix_listen_reports_an_existing_path", unix_listen_reports_an_existing_path},
    {"unix_listen_rejects_an_ip_address", unix_listen_rejects_an_ip_address},
    {"unix_listen_reports_a_missing_folder", unix_listen_reports_a_missing_folder},
    {"unix_listen_takes_an_abstract_name", unix_listen_takes_an_abstract_name},
    {"unix_listener_adopt_takes_a_listening_socket", unix_listener_adopt_takes_a_listening_socket},
    {"unix_listener_adopt_refuses_a_tcp_socket", unix_listener_adopt_refuses_a_tcp_socket},
    {"unix_accept_on_a_closed_listener_is_stale", unix_accept_on_a_closed_listener_is_stale},
};

int main(int argc, char** argv) { return run_named_case(cases, sizeof cases / sizeof cases[0], argc, argv); }
