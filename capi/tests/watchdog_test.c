// SPDX-License-Identifier: MIT
/* The C API's systemd watchdog, pinging a notify socket the test listens on as systemd would. */
#define _XOPEN_SOURCE 700 /* POSIX 2008: setenv */
#define _DARWIN_C_SOURCE  /* macOS: POSIX alone hides MSG_DONTWAIT there */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emio.h"
#include "harness.h"

static emio_watchdog watchdog;
static int notify_fd = -1;
static char notify_path[64];

/* NOTIFY_SOCKET at a datagram socket of ours, and WATCHDOG_USEC for this process. */
static void pretend_systemd(const char* watchdog_usec) {
  struct sockaddr_un local;
  snprintf(notify_path, sizeof notify_path, "/tmp/emio-capi-%ld-notify.sock", (long)getpid());
  unlink(notify_path);
  notify_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  memset(&local, 0, sizeof local);
  local.sun_family = AF_UNIX;
  strncpy(local.sun_path, notify_path, sizeof local.sun_path - 1);
  CHECK(bind(notify_fd, (struct sockaddr*)&local, sizeof local) == 0);
  CHECK(setenv("NOTIFY_SOCKET", notify_path, 1) == 0 && setenv("WATCHDOG_USEC", watchdog_usec, 1) == 0);
  CHECK(unsetenv("WATCHDOG_PID") == 0);
}

static void stop_pretending(void) {
  close(notify_fd);
  unlink(notify_path);
}

/* The WATCHDOG=1 datagrams queued on the notify socket now. */
static int pings_queued(void) {
  char message[64];
  ssize_t got;
  int pings = 0;
  while ((got = recv(notify_fd, message, sizeof message, MSG_DONTWAIT)) > 0) {
    CHECK(got == 10 && memcmp(message, "WATCHDOG=1", 10) == 0);
    pings += 1;
  }
  return pings;
}

static void watchdog_is_off_without_watchdog_usec(void) {
  CHECK(unsetenv("WATCHDOG_USEC") == 0);
  init_runtime();
  CHECK(emio_watchdog_start(&runtime, &watchdog) == EMIO_OK);
  CHECK(emio_watchdog_running(&watchdog) == 0 && emio_watchdog_pings_sent(&watchdog) == 0);
  emio_watchdog_close(&watchdog);
  emio_runtime_destroy(&runtime);
}

static void watchdog_pings_at_once_and_then_from_the_loop(void) {
  int turn;
  pretend_systemd("40000"); /* 40 ms: a ping every 20 ms */
  init_runtime();
  CHECK(emio_watchdog_start(&runtime, &watchdog) == EMIO_OK);
  CHECK(emio_watchdog_running(&watchdog) == 1);
  CHECK(pings_queued() == 1 && emio_watchdog_pings_sent(&watchdog) == 1);
  for (turn = 0; turn < 600 && emio_watchdog_pings_sent(&watchdog) < 4; ++turn) {
    CHECK(emio_runtime_run_once(&runtime, 100) == EMIO_OK);
  }
  CHECK(emio_watchdog_pings_sent(&watchdog) >= 4);
  CHECK(pings_queued() >= 3);
  emio_watchdog_close(&watchdog);
  emio_runtime_destroy(&runtime);
  stop_pretending();
}

static void starting_a_started_watchdog_is_busy(void) {
  pretend_systemd("20000");
  init_runtime();
  CHECK(emio_watchdog_start(&runtime, &watchdog) == EMIO_OK);
  CHECK(emio_watchdog_start(&runtime, &watchdog) == -EBUSY);
  CHECK(emio_watchdog_running(&watchdog) == 1);
  emio_watchdog_close(&watchdog);
  emio_runtime_destroy(&runtime);
  stop_pretending();
}

static void a_closed_watchdog_pings_no_more(void) {
  pretend_systemd("20000");
  init_runtime();
  CHECK(emio_watchdog_start(&runtime, &watchdog) == EMIO_OK);
  emio_watchdog_close(&watchdog);
  CHECK(pings_queued() == 1); /* the one at start */
  run_a_few_turns(5);         /* 50 ms and more: five periods */
  CHECK(pings_queued() == 0);
  CHECK(emio_watchdog_running(&watchdog) == 0);
  emio_runtime_destroy(&runtime);
  stop_pretending();
}

static void watchdog_for_another_process_is_off(void) {
  char other[32];
  pretend_systemd("20000");
  snprintf(other, sizeof other, "%ld", (long)getppid());
  CHECK(setenv("WATCHDOG_PID", other, 1) == 0);
  init_runtime();
  CHECK(emio_watchdog_start(&runtime, &watchdog) == EMIO_OK);
  CHECK(emio_watchdog_running(&watchdog) == 0 && pings_queued() == 0);
  emio_watchdog_close(&watchdog);
  emio_runtime_destroy(&runtime);
  stop_pretending();
}

static void watchdog_start_fails_when_every_timer_is_taken(void) {
  emio_runtime_config config;
  emio_timer taken;
  emio_runtime_config_default(&config);
  config.max_timers = 1;
  pretend_systemd("20000");
  CHECK(emio_runtime_init(&runtime, &config) == EMIO_OK);
  emio_timer_init(&runtime, &taken);
  CHECK(emio_timer_start(&taken, 60000, 0, NULL, NULL) == EMIO_OK);
  CHECK(emio_watchdog_start(&runtime, &watchdog) == -ENOSPC);
  CHECK(strcmp(emio_strerror(-ENOSPC), "ENOSPC") == 0);
  CHECK(emio_watchdog_running(&watchdog) == 0 && pings_queued() == 0);
  emio_timer_close(&taken);
  emio_runtime_destroy(&runtime);
  stop_pretending();
}

static const struct test_case cases[] = {
    {"watchdog_is_off_without_watchdog_usec", watchdog_is_off_without_watchdog_usec},
    {"watchdog_pings_at_once_and_then_from_the_loop", watchdog_pings_at_once_and_then_from_the_loop},
    {"starting_a_started_watchdog_is_busy", starting_a_started_watchdog_is_busy},
    {"a_closed_watchdog_pings_no_more", a_closed_watchdog_pings_no_more},
    {"watchdog_for_another_process_is_off", watchdog_for_another_process_is_off},
    {"watchdog_start_fails_when_every_timer_is_taken", watchdog_start_fails_when_every_timer_is_taken},
};

int main(int argc, char** argv) { return run_named_case(cases, sizeof cases / sizeof cases[0], argc, argv); }
