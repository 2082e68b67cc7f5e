// SPDX-License-Identifier: MIT
/* emio-c-echo: a first daemon in C99 on emio.h. A TCP echo server for up to 8 clients, a heartbeat
 * timer, and a clean exit on SIGTERM or SIGINT; every object is a static variable.
 *   emio-c-echo 127.0.0.1:7000      (port 0 picks a free port; the bound address is printed)
 */
#include <signal.h>
#include <stdio.h>

#include "emio.h"

#define MAX_CLIENTS 8
#define HEARTBEAT_MS 100

struct client {
  emio_stream stream;
  int in_use;
  char buffer[512];
};

static emio_runtime runtime;
static emio_tcp_listener listener;
static emio_signals signals;
static emio_timer heartbeat;
static struct client clients[MAX_CLIENTS];
static emio_stream turned_away; /* a connection past MAX_CLIENTS lands here and is closed at once */
static unsigned long ticks;
static unsigned long connections;

static void accept_next(void);
static void on_read(emio_stream* stream, long result, void* context);

static void drop(struct client* client) {
  emio_stream_close(&client->stream);
  client->in_use = 0;
}

static void on_written(emio_stream* stream, long result, void* context) {
  struct client* client = context;
  int error;
  (void)stream;
  if (result < 0) {
    drop(client);
    return;
  }
  error = emio_stream_read(&client->stream, client->buffer, sizeof client->buffer, on_read, client);
  if (error != EMIO_OK) drop(client);
}

static void on_read(emio_stream* stream, long result, void* context) {
  struct client* client = context;
  int error;
  (void)stream;
  if (result <= 0) { /* 0: the client closed its side; < 0: reset */
    drop(client);
    return;
  }
  error = emio_stream_write(&client->stream, client->buffer, (size_t)result, on_written, client);
  if (error != EMIO_OK) drop(client);
}

static struct client* free_client(void) {
  int i;
  for (i = 0; i < MAX_CLIENTS; ++i) {
    if (!clients[i].in_use) return &clients[i];
  }
  return NULL;
}

static void on_accept(emio_tcp_listener* accepted_on, int status, void* context) {
  struct client* client = context;
  (void)accepted_on;
  if (status != EMIO_OK) {
    fprintf(stderr, "emio-c-echo: accept: %s\n", emio_strerror(status));
  } else if (client == NULL) {
    emio_stream_close(&turned_away);
  } else {
    client->in_use = 1;
    connections += 1;
    if (emio_stream_read(&client->stream, client->buffer, sizeof client->buffer, on_read, client) != EMIO_OK) {
      drop(client);
    }
  }
  accept_next();
}

static void accept_next(void) {
  struct client* client = free_client();
  emio_stream* into = client != NULL ? &client->stream : &turned_away;
  int error = emio_tcp_accept(&listener, into, on_accept, client);
  if (error != EMIO_OK) {
    fprintf(stderr, "emio-c-echo: accept: %s\n", emio_strerror(error));
    emio_runtime_stop(&runtime);
  }
}

static void on_heartbeat(emio_timer* timer, void* context) {
  (void)timer;
  (void)context;
  ticks += 1;
}

static void on_signal(int signal_number, void* context) {
  (void)context;
  if (signal_number == SIGTERM || signal_number == SIGINT) emio_runtime_stop(&runtime);
}

static int fail(const char* what, int error) {
  fprintf(stderr, "emio-c-echo: %s: %s\n", what, emio_strerror(error));
  return 1;
}

int main(int argc, char** argv) {
  static const int stop_signals[] = {SIGTERM, SIGINT};
  char address[112];
  int error;
  int i;

  if (argc != 2) {
    fprintf(stderr, "usage: emio-c-echo ADDR:PORT\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  error = emio_runtime_init(&runtime, NULL);
  if (error != EMIO_OK) return fail("init", error);
  error = emio_signals_open(&runtime, &signals, stop_signals, 2, on_signal, NULL);
  if (error != EMIO_OK) return fail("signals", error);
  error = emio_tcp_listen(&runtime, &listener, argv[1]);
  if (error != EMIO_OK) return fail(argv[1], error);
  emio_timer_init(&runtime, &heartbeat);
  error = emio_timer_start(&heartbeat, HEARTBEAT_MS, HEARTBEAT_MS, on_heartbeat, NULL);
  if (error != EMIO_OK) return fail("timer", error);

  (void)emio_tcp_listener_address(&listener, address, sizeof address);
  printf("emio-c-echo: backend %s\n", emio_runtime_backend(&runtime));
  printf("emio-c-echo: listening on %s\n", address);
  accept_next();

  error = emio_runtime_run(&runtime);

  for (i = 0; i < MAX_CLIENTS; ++i) {
    if (clients[i].in_use) drop(&clients[i]);
  }
  emio_timer_close(&heartbeat);
  emio_tcp_listener_close(&listener);
  emio_signals_close(&signals);
  emio_runtime_destroy(&runtime);
  printf("emio-c-echo: stopped after %lu heartbeats, %lu connections\n", ticks, connections);
  return error == EMIO_OK ? 0 : fail("run", error);
}
