// SPDX-License-Identifier: MIT
/* The C API's serial ports, on a pseudo-terminal pair standing in for a board's UART. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 and posix_openpt */
#define _DEFAULT_SOURCE   /* glibc: CRTSCTS, which POSIX does not name */
#define _DARWIN_C_SOURCE  /* macOS: the same; _XOPEN_SOURCE alone hides it there */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "emio.h"
#include "harness.h"

static void serial_open_reports_a_missing_device(void) {
  emio_stream port;
  init_runtime();
  CHECK(emio_serial_open(&runtime, &port, "/dev/emio-no-such-tty", 115200) == -ENOENT);
  emio_runtime_destroy(&runtime);
}

/* A pseudo-terminal pair: `device` plays the board, the returned path is the port's side. */
static int device_fd = -1;
static const char* open_pty(void) {
  device_fd = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(device_fd >= 0 && grantpt(device_fd) == 0 && unlockpt(device_fd) == 0);
  return ptsname(device_fd);
}

/* Opens the pty's port with `settings` and returns the error; closes it again when it opened. */
static int open_pty_port(const emio_serial_settings* settings, tcflag_t* cflag) {
  emio_stream port;
  int error;
  init_runtime();
  error = emio_serial_open_with(&runtime, &port, open_pty(), settings);
  if (error == EMIO_OK) {
    struct termios current;
    CHECK(tcgetattr(emio_stream_fd(&port), &current) == 0);
    if (cflag != NULL) *cflag = current.c_cflag;
    emio_stream_close(&port);
  }
  emio_runtime_destroy(&runtime);
  close(device_fd);
  return error;
}

static void serial_two_stop_bits_and_rtscts_are_applied(void) {
  emio_serial_settings settings;
  tcflag_t cflag = 0;
  emio_serial_settings_default(&settings);
  settings.stop_bits = 2;
  settings.rtscts = 1;
  CHECK(open_pty_port(&settings, &cflag) == EMIO_OK);
  CHECK((cflag & CSTOPB) != 0 && (cflag & CRTSCTS) != 0);
}

static void serial_a_non_standard_rate_is_accepted(void) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  settings.baud_rate = 250000; /* no termios constant: termios2 with BOTHER */
#if defined(EMIO_TEST_UNDER_QEMU)
  CHECK(open_pty_port(&settings, NULL) == -ENOTSUP); /* qemu-user translates no termios2 ioctl */
#else
  CHECK(open_pty_port(&settings, NULL) == EMIO_OK);
#endif
}

static void serial_data_bits_out_of_range_are_invalid(void) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  settings.data_bits = 9;
  CHECK(open_pty_port(&settings, NULL) == -EINVAL);
}

static void serial_parity_on_a_pty_is_not_supported(void) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  settings.parity = EMIO_PARITY_EVEN; /* a pty keeps no parity whatever it is told */
  CHECK(open_pty_port(&settings, NULL) == -ENOTSUP);
}

static void serial_rs485_on_a_pty_is_not_supported(void) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  settings.rs485 = 1;
  CHECK(open_pty_port(&settings, NULL) == -ENOTSUP);
}

/* --- Reconfiguring an open port --- */

static emio_stream open_port;

static void open_default_pty_port(void) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  init_runtime();
  CHECK(emio_serial_open_with(&runtime, &open_port, open_pty(), &settings) == EMIO_OK);
}

static void close_default_pty_port(void) {
  emio_stream_close(&open_port);
  emio_runtime_destroy(&runtime);
  close(device_fd);
}

static void serial_configure_applies_new_settings_to_an_open_port(void) {
  emio_serial_settings settings;
  struct termios current;
  open_default_pty_port();
  emio_serial_settings_default(&settings);
  settings.stop_bits = 2;
  settings.rtscts = 1;
  CHECK(emio_serial_configure(&open_port, &settings) == EMIO_OK);
  CHECK(tcgetattr(emio_stream_fd(&open_port), &current) == 0);
  CHECK((current.c_cflag & CSTOPB) != 0 && (current.c_cflag & CRTSCTS) != 0);
  close_default_pty_port();
}

static int wrote;
static void on_written(emio_stream* stream, long result, void* context) {
  (void)stream;
  (void)context;
  CHECK(result == 2);
  wrote = 1;
}

static void serial_port_stays_usable_after_a_refused_configure(void) {
  emio_serial_settings settings;
  char received[2] = {0};
  open_default_pty_port();
  emio_serial_settings_default(&settings);
  settings.parity = EMIO_PARITY_ODD; /* a pty keeps no parity */
  CHECK(emio_serial_configure(&open_port, &settings) == -ENOTSUP);
  CHECK(emio_stream_write(&open_port, "ok", 2, on_written, NULL) == EMIO_OK);
  run_until(&wrote, 1);
  CHECK(read(device_fd, received, sizeof received) == 2 && memcmp(received, "ok", 2) == 0);
  close_default_pty_port();
}

static void serial_configure_refuses_values_out_of_range(void) {
  emio_serial_settings settings;
  open_default_pty_port();
  emio_serial_settings_default(&settings);
  settings.stop_bits = 3;
  CHECK(emio_serial_configure(&open_port, &settings) == -EINVAL);
  CHECK(strcmp(emio_describe(-EINVAL), "Invalid argument") == 0);
  close_default_pty_port();
}

static void serial_configure_of_a_closed_port_is_stale(void) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  open_default_pty_port();
  emio_stream_close(&open_port);
  CHECK(emio_serial_configure(&open_port, &settings) == EMIO_ESTALE);
  close_default_pty_port(); /* a second close does nothing */
}

static int accepted;
static void on_accept(emio_tcp_listener* listener, int status, void* context) {
  (void)listener;
  (void)context;
  CHECK(status == EMIO_OK);
  accepted = 1;
}

static void on_connect(emio_stream* stream, int status, void* context) {
  (void)stream;
  (void)status;
  (void)context;
}

static void serial_configure_of_a_socket_is_not_a_terminal(void) {
  emio_tcp_listener listener;
  emio_stream client, server;
  emio_serial_settings settings;
  char address[EMIO_ADDRESS_TEXT_SIZE];
  emio_serial_settings_default(&settings);
  init_runtime();
  CHECK(emio_tcp_listen(&runtime, &listener, "127.0.0.1:0") == EMIO_OK);
  CHECK(emio_tcp_listener_address(&listener, address, sizeof address) == EMIO_OK);
  CHECK(emio_tcp_accept(&listener, &server, on_accept, NULL) == EMIO_OK);
  CHECK(emio_tcp_connect(&runtime, &client, address, on_connect, NULL) == EMIO_OK);
  run_until(&accepted, 1);
  CHECK(emio_serial_configure(&server, &settings) == -ENOTTY);
  emio_stream_close(&client);
  emio_stream_close(&server);
  emio_tcp_listener_close(&listener);
  emio_runtime_destroy(&runtime);
}

static const struct test_case cases[] = {
    {"serial_open_reports_a_missing_device", serial_open_reports_a_missing_device},
    {"serial_two_stop_bits_and_rtscts_are_applied", serial_two_stop_bits_and_rtscts_are_applied},
    {"serial_a_non_standard_rate_is_accepted", serial_a_non_standard_rate_is_accepted},
    {"serial_data_bits_out_of_range_are_invalid", serial_data_bits_out_of_range_are_invalid},
    {"serial_parity_on_a_pty_is_not_supported", serial_parity_on_a_pty_is_not_supported},
    {"serial_rs485_on_a_pty_is_not_supported", serial_rs485_on_a_pty_is_not_supported},
    {"serial_configure_applies_new_settings_to_an_open_port", serial_configure_applies_new_settings_to_an_open_port},
    {"serial_port_stays_usable_after_a_refused_configure", serial_port_stays_usable_after_a_refused_configure},
    {"serial_configure_refuses_values_out_of_range", serial_configure_refuses_values_out_of_range},
    {"serial_configure_of_a_closed_port_is_stale", serial_configure_of_a_closed_port_is_stale},
    {"serial_configure_of_a_socket_is_not_a_terminal", serial_configure_of_a_socket_is_not_a_terminal},
};

int main(int argc, char** argv) { return run_named_case(cases, sizeof cases / sizeof cases[0], argc, argv); }
