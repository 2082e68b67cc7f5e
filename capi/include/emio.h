// SPDX-License-Identifier: MIT
/* emio.h: the C API of emio, for C99 firmware code.
 *
 * Every object is a struct the caller allocates (statically, on the stack, or inside its own structs):
 * its size and alignment are published here and checked against the C++ objects when the library is
 * built. Nothing is allocated after emio_runtime_init(), which takes the runtime's fixed tables once.
 *
 * Errors are ints: 0 for success, a negative errno value (-ECONNREFUSED, -ENOENT, ...) from the OS, or
 * one of the EMIO_E* codes below for emio's own failures. emio_strerror() names any of them.
 *
 * Callbacks carry the caller's context pointer and always run from emio_runtime_run() (or _run_once),
 * on the runtime's thread, never from inside the call that started the operation. Nothing here is
 * thread-safe except emio_runtime_stop().
 *
 * Lifetime: each object has an opening call (init, open, listen, connect, or a completed accept) and a closing
 * call (close, destroy); between the two it must not move. Closing an object with an operation pending
 * cancels the operation: its callback is not called. Close every object before emio_runtime_destroy().
 * A closed object (or a zeroed one, never opened) answers its calls with EMIO_ESTALE, and closing it
 * again does nothing.
 */
#ifndef EMIO_H
#define EMIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Errors ----------------------------------------------------------------------------------- */

#define EMIO_OK 0
#define EMIO_EREGISTRATIONS_FULL (-10001) /* every registration slot of the runtime is in use */
#define EMIO_ESTALE (-10002)              /* the object was already closed */
#define EMIO_ESHUTDOWN (-10003)           /* the runtime was shut down */
#define EMIO_EBACKEND (-10004)            /* the backend asked for is not compiled in or not usable */
#define EMIO_ENOSTORAGE (-10005)          /* a zero capacity, or the one allocation at init failed */

/* A short, stable name in static storage: "ok", "ECONNREFUSED", "emio: registrations full", or "errno
 * (unnamed)" for a number that is no errno value. emio_describe() gives a one-line text beside it. */
const char* emio_strerror(int error);
/* "Connection refused", "every registration slot is in use (raise registration_capacity)", ...: one line,
 * static storage (never strerror()'s buffer, which the next strerror() call may free). */
const char* emio_describe(int error);

/* --- Object storage --------------------------------------------------------------------------- */

/* Sizes with room to spare, so that the C++ objects may grow without changing this ABI. On x86-64 with
 * io_uring compiled in the objects took 792, 96, 288, 160 and 312 bytes when these were set (the Unix
 * listener, datagram socket and watchdog 168, 432 and 80); the last 8 bytes of each mark it open. */
#define EMIO_RUNTIME_SIZE 1536
#define EMIO_TIMER_SIZE 128
#define EMIO_SIGNALS_SIZE 448
#define EMIO_TCP_LISTENER_SIZE 256
#define EMIO_STREAM_SIZE 448
#define EMIO_WATCH_SIZE 384
#define EMIO_UNIX_LISTENER_SIZE 256
#define EMIO_DATAGRAM_SIZE 768
#define EMIO_WATCHDOG_SIZE 128

/* Storage aligned for any C++ member (8 bytes is enough for every type the objects hold). */
#define EMIO_OPAQUE(size)      \
  union {                      \
    unsigned char bytes[size]; \
    uint64_t align_u64;        \
    double align_double;       \
    void* align_pointer;       \
  } opaque

typedef struct emio_runtime {
  EMIO_OPAQUE(EMIO_RUNTIME_SIZE);
} emio_runtime;
typedef struct emio_timer {
  EMIO_OPAQUE(EMIO_TIMER_SIZE);
} emio_timer;
typedef struct emio_signals {
  EMIO_OPAQUE(EMIO_SIGNALS_SIZE);
} emio_signals;
typedef struct emio_tcp_listener {
  EMIO_OPAQUE(EMIO_TCP_LISTENER_SIZE);
} emio_tcp_listener;
/* A TCP connection or a serial port: both are byte streams with the same read and write calls. */
typedef struct emio_stream {
  EMIO_OPAQUE(EMIO_STREAM_SIZE);
} emio_stream;

/* Any pollable descriptor (a GPIO line, netlink, SocketCAN, a timerfd), for the caller's own reads. */
typedef struct emio_watch {
  EMIO_OPAQUE(EMIO_WATCH_SIZE);
} emio_watch;
typedef struct emio_unix_listener {
  EMIO_OPAQUE(EMIO_UNIX_LISTENER_SIZE);
} emio_unix_listener;
/* A UDP socket or a Unix datagram socket: one datagram per send and per receive. */
typedef struct emio_datagram {
  EMIO_OPAQUE(EMIO_DATAGRAM_SIZE);
} emio_datagram;
/* systemd's watchdog, pinged from a timer of the runtime. */
typedef struct emio_watchdog {
  EMIO_OPAQUE(EMIO_WATCHDOG_SIZE);
} emio_watchdog;

/* --- Runtime ---------------------------------------------------------------------------------- */

typedef struct emio_runtime_config {
  uint32_t max_sources; /* sockets, serial ports and signal sets open at once */
  uint32_t max_timers;  /* timers started at once */
  const char* backend;  /* "epoll", "uring", "uring-sqpoll", "kqueue", or NULL / "automatic" */
} emio_runtime_config;

/* max_sources 64, max_timers 16, backend NULL. */
void emio_runtime_config_default(emio_runtime_config* config);

/* Makes the runtime's one allocation. `config` may be NULL for the defaults. Errors: EMIO_EBACKEND for
 * an unknown or missing backend, EMIO_ENOSTORAGE, and the OS's (EMFILE, ...). */
int emio_runtime_init(emio_runtime* runtime, const emio_runtime_config* config);
/* Runs callbacks until emio_runtime_stop(). Returns 0, or the error that ended the loop. */
int emio_runtime_run(emio_runtime* runtime);
/* One turn: waits up to max_wait_ms (-1: no limit but the next timer; 0: not at all) and runs what is due. */
int emio_runtime_run_once(emio_runtime* runtime, int max_wait_ms);
/* Makes emio_runtime_run() return after the current turn. Any thread. */
void emio_runtime_stop(emio_runtime* runtime);
/* The backend running: "epoll", "uring" or "kqueue". */
const char* emio_runtime_backend(emio_runtime* runtime);
/* Releases the runtime's memory and descriptors; every object on it must be closed first. */
void emio_runtime_destroy(emio_runtime* runtime);

/* --- Timers: one-shot or periodic, millisecond resolution ---------------------------------------- */

typedef void (*emio_timer_cb)(emio_timer* timer, void* context);

void emio_timer_init(emio_runtime* runtime, emio_timer* timer);
/* Fires after delay_ms, then every period_ms if it is not 0. Restarts a started timer.
 * Errors: -ENOSPC when max_timers are started. */
int emio_timer_start(emio_timer* timer, uint32_t delay_ms, uint32_t period_ms, emio_timer_cb callback, void* context);
/* Returns 1 if it was started, 0 if not. */
int emio_timer_stop(emio_timer* timer);
/* How late the current firing is (a long callback elsewhere delays timers; a late timer fires once). */
uint64_t emio_timer_lateness_ms(const emio_timer* timer);
void emio_timer_close(emio_timer* timer);

/* --- Signals: SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 as events --------------------------------- */

typedef void (*emio_signal_cb)(int signal_number, void* context);

/* Blocks `signal_numbers` in the calling thread (open it in main() before starting threads) and calls
 * `callback` for each one received. Errors: -EINVAL for an empty or uncatchable set. */
int emio_signals_open(emio_runtime* runtime, emio_signals* signals, const int* signal_numbers, size_t count,
                      emio_signal_cb callback, void* context);
/* Stops listening and restores the thread's signal mask. */
void emio_signals_close(emio_signals* signals);

/* --- TCP ------------------------------------------------------------------------------------------ */

/* Called once: 0 when `stream` holds the new connection (close it with emio_stream_close), or an error. */
typedef void (*emio_accept_cb)(emio_tcp_listener* listener, int status, void* context);

/* Listens on "ADDR:PORT" ("127.0.0.1:7000", "[::1]:7000"; port 0 picks a free one).
 * Errors: -EINVAL for another text, -EADDRINUSE, -EACCES. */
int emio_tcp_listen(emio_runtime* runtime, emio_tcp_listener* listener, const char* address);
/* Writes the bound address ("127.0.0.1:40123"), NUL-terminated and cut to fit. */
int emio_tcp_listener_address(const emio_tcp_listener* listener, char* text, size_t text_size);
/* Accepts the next connection into `stream`, which must not hold an open stream (it is overwritten).
 * Errors now: -EBUSY if an accept is pending. */
int emio_tcp_accept(emio_tcp_listener* listener, emio_stream* stream, emio_accept_cb callback, void* context);
void emio_tcp_listener_close(emio_tcp_listener* listener);

/* --- Connecting: TCP and Unix stream sockets ------------------------------------------------------ */

/* Called once: 0 when `stream` is connected, or why not (-ECONNREFUSED, -ENOENT, -ETIMEDOUT, ...). */
typedef void (*emio_connect_cb)(emio_stream* stream, int status, void* context);

/* Starts connecting `stream` to "ADDR:PORT" ("127.0.0.1:7000", "[::1]:7000"). A 0 return opens the
 * stream: close it with emio_stream_close() whatever the callback says (closing it first cancels the
 * connect, without a callback). Reads and writes before the callback are -ENOTCONN. Errors now: -EINVAL
 * for another text, -EMFILE, and an immediate failure of connect(). */
int emio_tcp_connect(emio_runtime* runtime, emio_stream* stream, const char* address, emio_connect_cb callback,
                     void* context);
/* The same for a Unix stream socket: "/run/app.sock", or "@name" for an abstract one (Linux). */
int emio_unix_connect(emio_runtime* runtime, emio_stream* stream, const char* path, emio_connect_cb callback,
                      void* context);

/* --- Unix stream listeners ------------------------------------------------------------------------ */

/* Called once: 0 when `stream` holds the new connection (close it with emio_stream_close), or an error. */
typedef void (*emio_unix_accept_cb)(emio_unix_listener* listener, int status, void* context);

/* Listens on a Unix socket path ("/run/app.sock"; "@name" for an abstract one, Linux). The path must not
 * exist: remove a stale socket file first; closing the listener leaves the file. Errors: -EINVAL for an
 * IP address, -ENAMETOOLONG, -EADDRINUSE (the path exists), -EACCES, -ENOENT (no such folder). */
int emio_unix_listen(emio_runtime* runtime, emio_unix_listener* listener, const char* path);
/* Takes a listening Unix stream socket (one systemd passed); on failure `fd` is closed.
 * Errors: -ENOTSOCK, -EINVAL (not listening, not a Unix stream socket). */
int emio_unix_listener_adopt(emio_runtime* runtime, emio_unix_listener* listener, int fd);
/* Writes the bound path ("/run/app.sock", "@name"), NUL-terminated and cut to fit. */
int emio_unix_listener_address(const emio_unix_listener* listener, char* text, size_t text_size);
/* As emio_tcp_accept. Errors now: -EBUSY if an accept is pending. */
int emio_unix_accept(emio_unix_listener* listener, emio_stream* stream, emio_unix_accept_cb callback, void* context);
void emio_unix_listener_close(emio_unix_listener* listener);

/* --- Datagram sockets: UDP and Unix ------------------------------------------------------------------ */

/* The longest address text a callback or emio_datagram_address() gives, NUL included. */
#define EMIO_ADDRESS_TEXT_SIZE 113

/* `result`: the datagram's size (a received one is cut to the buffer: size it for the largest expected),
 * or a negative error. `peer`: for a receive, the sender ("127.0.0.1:40123", "/run/app.sock", "" for an
 * unbound Unix sender), valid during the call only; NULL for a send or an error. */
typedef void (*emio_datagram_cb)(emio_datagram* socket, long result, const char* peer, void* context);

/* A UDP socket bound to "ADDR:PORT" ("0.0.0.0:5683", "[::1]:0"; port 0 picks a free one).
 * Errors: -EINVAL for another text, -EADDRINUSE, -EACCES. */
int emio_udp_bind(emio_runtime* runtime, emio_datagram* socket, const char* address);
/* A Unix datagram socket bound to a path (which must not exist: -EADDRINUSE) or "@name". */
int emio_unix_datagram_bind(emio_runtime* runtime, emio_datagram* socket, const char* path);
/* A Unix datagram socket bound to nothing: it sends to bound ones, nobody can answer it. */
int emio_unix_datagram_open(emio_runtime* runtime, emio_datagram* socket);
/* Fixes the peer: emio_datagram_send() goes there and only its datagrams are received. A connected UDP
 * socket learns of a closed peer port: its next send or receive fails with -ECONNREFUSED.
 * Errors: -EINVAL for a text that is no address, the OS's (-ENOENT: no such Unix socket). */
int emio_datagram_connect(emio_datagram* socket, const char* peer);
/* Writes the bound address ("127.0.0.1:40123"), NUL-terminated and cut to fit. */
int emio_datagram_address(const emio_datagram* socket, char* text, size_t text_size);
/* Receives one datagram into `buffer`. Errors now: -EBUSY if a receive is pending. */
int emio_datagram_recv(emio_datagram* socket, void* buffer, size_t size, emio_datagram_cb callback, void* context);
/* Sends one datagram, whole or not at all, to `destination` ("127.0.0.1:5683", "/run/app.sock");
 * `data` must stay valid until the callback, which gets `size` or an error (-EMSGSIZE: too big).
 * Errors now: -EINVAL for a text that is no address, -EBUSY if a send is pending. */
int emio_datagram_send_to(emio_datagram* socket, const void* data, size_t size, const char* destination,
                          emio_datagram_cb callback, void* context);
/* The same to the connected peer; the callback gets -EDESTADDRREQ on a socket not connected. */
int emio_datagram_send(emio_datagram* socket, const void* data, size_t size, emio_datagram_cb callback, void* context);
/* The socket's descriptor, for socket options (SO_BROADCAST, IP_ADD_MEMBERSHIP); emio owns it. */
int emio_datagram_fd(const emio_datagram* socket);
/* Cancels pending operations (no callbacks) and closes; a bound Unix path stays until unlinked. */
void emio_datagram_close(emio_datagram* socket);

/* --- Serial ports: raw mode ------------------------------------------------------------------------ */

#define EMIO_PARITY_NONE 0
#define EMIO_PARITY_EVEN 1
#define EMIO_PARITY_ODD 2

typedef struct emio_serial_settings {
  uint32_t baud_rate; /* any rate up to 16000000: one without a termios constant goes through termios2 */
  uint8_t data_bits;  /* 5 to 8 */
  uint8_t parity;     /* EMIO_PARITY_* */
  uint8_t stop_bits;  /* 1 or 2 */
  uint8_t rtscts;     /* 1: RTS/CTS hardware flow control */
  uint8_t rs485;      /* 1: RS-485 half duplex by the UART driver (TIOCSRS485, Linux); 0 leaves it as it is */
  uint8_t rs485_rts_high_while_sending; /* the driver-enable polarity */
  uint32_t rs485_delay_before_send_ms;
  uint32_t rs485_delay_after_send_ms;
} emio_serial_settings;

/* 115200 8N1, no flow control, RS-485 left alone (RTS high while sending if it is turned on). */
void emio_serial_settings_default(emio_serial_settings* settings);

/* Opens a tty ("/dev/ttyUSB0") 8N1 at `baud_rate`. Errors: those of emio_serial_open_with. */
int emio_serial_open(emio_runtime* runtime, emio_stream* stream, const char* path, uint32_t baud_rate);
/* Opens a tty with `settings`, read back after they were applied. Errors: -ENOENT, -EACCES (not in the
 * dialout group), -ENOTTY (not a terminal), -EINVAL (a value out of range), -ENOTSUP (a valid setting
 * the device cannot take: a pseudo-terminal keeps 8 data bits and no parity, a driver without RS-485). */
int emio_serial_open_with(emio_runtime* runtime, emio_stream* stream, const char* path,
                          const emio_serial_settings* settings);

/* Applies `settings` to an open port at once (its pending reads and writes go on), read back as when
 * opening. Errors: those of emio_serial_open_with; -ENOTTY for a stream that is no terminal (a TCP
 * connection). A refused setting leaves the port open and usable. */
int emio_serial_configure(emio_stream* stream, const emio_serial_settings* settings);

/* --- Streams (TCP connections and serial ports) ----------------------------------------------------- */

/* `result`: bytes transferred, 0 for a read at end of stream, or a negative error (-ECONNRESET, ...). */
typedef void (*emio_io_cb)(emio_stream* stream, long result, void* context);

/* Reads once, up to `size` bytes, as soon as any arrive. Errors now: -EBUSY if a read is pending. */
int emio_stream_read(emio_stream* stream, void* buffer, size_t size, emio_io_cb callback, void* context);
/* Writes all `size` bytes (the callback gets `size`), or fails. Errors now: -EBUSY if a write is pending.
 * `data` must stay valid until the callback. */
int emio_stream_write(emio_stream* stream, const void* data, size_t size, emio_io_cb callback, void* context);
/* Cancels pending operations (no callbacks) and closes; the peer of a TCP stream reads end of stream. */
void emio_stream_close(emio_stream* stream);
/* The stream's descriptor, for ioctls and socket options (tcgetattr, TIOCMGET, setsockopt); emio owns
 * it: do not close it, and do not read or write it while an emio read or write is pending. */
int emio_stream_fd(const emio_stream* stream);

/* --- Watching any descriptor ---------------------------------------------------------------------- */

#define EMIO_READABLE 0
#define EMIO_WRITABLE 1

typedef void (*emio_watch_cb)(emio_watch* watch, int direction, void* context);

/* Takes `fd` (made non-blocking; closed by emio_watch_close, and on failure). Errors: -EPERM for a
 * regular file (epoll cannot watch one), EMIO_EREGISTRATIONS_FULL. */
int emio_watch_open(emio_runtime* runtime, emio_watch* watch, int fd);
/* Calls `callback` once, when `direction` (EMIO_READABLE or EMIO_WRITABLE) is ready. Edge-triggered:
 * arm again only after your read or write said EAGAIN, or the callback comes at once (and a readiness
 * that arrived after the last callback is never lost). Errors: -EINVAL for another direction. */
int emio_watch_arm(emio_watch* watch, int direction, emio_watch_cb callback, void* context);
int emio_watch_fd(const emio_watch* watch);
/* Disarms (no callback) and closes the descriptor. */
void emio_watch_close(emio_watch* watch);

/* --- Log hook: the few lines the library reports (a backend fallback, a malformed LISTEN_FDS) ------ */

#define EMIO_LOG_INFO 0
#define EMIO_LOG_WARNING 1
#define EMIO_LOG_ERROR 2

/* `message` is one line without a newline, valid during the call only. */
typedef void (*emio_log_cb)(int level, const char* message, void* context);
/* Replaces the default (a line on stderr); NULL restores it. Set it before starting threads. */
void emio_set_log_hook(emio_log_cb hook, void* context);

/* --- Driver counters, for operators and tests --------------------------------------------------- */

typedef struct emio_driver_stats {
  uint64_t turns;                /* polls of the backend */
  uint64_t events_dispatched;    /* events that reached a live source */
  uint64_t stale_events_dropped; /* events for a source already closed */
  uint64_t wakes_received;       /* wake-ups from emio_runtime_stop() and other threads */
  uint32_t live_sources;         /* sources open now, out of */
  uint32_t source_capacity;      /* max_sources */
} emio_driver_stats;

void emio_runtime_driver_stats(emio_runtime* runtime, emio_driver_stats* stats);

/* --- systemd, without libsystemd: sd_listen_fds(3), sd_notify(3), sd_watchdog_enabled(3) ---------- */

/* Sockets systemd passed (LISTEN_FDS, when LISTEN_PID is this process), else 0. */
uint32_t emio_systemd_listen_fd_count(void);
/* The `index`th passed fd (3 + index), close-on-exec from now on, the caller's; -1 past the count or
 * when already taken. */
int emio_systemd_listen_fd(uint32_t index);
/* The index of the socket named `name` (FileDescriptorName=) in LISTEN_FDNAMES, or -1. */
int emio_systemd_listen_fd_index(const char* name);
/* Sends "READY=1", "STATUS=...", "RELOADING=1", "STOPPING=1", "WATCHDOG=1" (lines joined by '\n') to
 * NOTIFY_SOCKET; 0 also outside systemd (no NOTIFY_SOCKET). */
int emio_systemd_notify(const char* state);
/* WATCHDOG_USEC for this process, 0 when the watchdog is off: ping "WATCHDOG=1" from a timer at half. */
uint64_t emio_systemd_watchdog_interval_us(void);
/* Takes a listening TCP socket (one systemd passed) into `listener`; on failure `fd` is closed.
 * Errors: -ENOTSOCK, -EINVAL (not listening, not TCP). */
int emio_tcp_listener_adopt(emio_runtime* runtime, emio_tcp_listener* listener, int fd);

/* Sends "WATCHDOG=1" now and then at half of WATCHDOG_USEC from the runtime's timers, so a loop that
 * stalls stops the pings and systemd restarts the daemon. Without a watchdog (no WATCHDOG_USEC) it opens
 * and does nothing. Close it with emio_watchdog_close(). Errors: -ENOSPC when max_timers are started,
 * -EBUSY when it is started already. */
int emio_watchdog_start(emio_runtime* runtime, emio_watchdog* watchdog);
/* 1 while it pings, 0 when the watchdog is off or the object closed. */
int emio_watchdog_running(const emio_watchdog* watchdog);
/* Pings systemd took (a ping NOTIFY_SOCKET refused is not counted). */
uint64_t emio_watchdog_pings_sent(const emio_watchdog* watchdog);
void emio_watchdog_close(emio_watchdog* watchdog);

#ifdef __cplusplus
}
#endif

#endif /* EMIO_H */
