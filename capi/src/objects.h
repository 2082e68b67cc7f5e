// SPDX-License-Identifier: MIT
// The C++ objects behind the C API's opaque structs, and the one way to reach them. Each C struct's
// bytes hold exactly one of these, constructed by the opening call and destroyed by the closing call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>

#include "emio.h"
#include "emio/runtime/datagram.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/io_watch.h"
#include "emio/runtime/poll_fd.h"
#include "emio/runtime/signals.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/systemd.h"
#include "emio/runtime/timer.h"

namespace emio_capi {

struct Runtime {
  emio::Executor executor;
};

struct Timer {
  emio::Timer timer;
  emio::Executor* executor = nullptr;
  emio_timer* self = nullptr;
  emio_timer_cb callback = nullptr;
  void* context = nullptr;
};

struct Signals {
  std::optional<emio::SignalListener> listener;
  emio::IoWatch watch;
  emio::Executor* executor = nullptr;
  emio_signal_cb callback = nullptr;
  void* context = nullptr;
};

// One pending read or write of a stream.
struct PendingIo {
  emio::IoWatch watch;
  std::byte* data = nullptr;
  size_t size = 0;
  size_t done = 0;
  emio_io_cb callback = nullptr;
  void* context = nullptr;
};

// A TCP connection or a serial port: a registered fd and its two directions.
struct Stream {
  emio::PollFd source;
  // A connect in progress holds the socket here, and hands its source over once connected. Declared
  // before the watches, which disarm first on close.
  std::optional<emio::StreamSocket> connecting;
  emio_connect_cb on_connected = nullptr;
  void* connect_context = nullptr;
  emio::Executor* executor = nullptr;
  emio_stream* self = nullptr;
  bool is_socket =
      false;  // writes use send() without SIGPIPE (port/socket.h): a peer that went away is EPIPE, not SIGPIPE
  PendingIo reading;
  PendingIo writing;
};

// A TCP or Unix stream listener whose accepts complete into caller-provided emio_stream storage.
template <typename CppListener, typename CListener, typename AcceptCallback>
struct ListenerOf {
  CppListener listener;
  emio::IoWatch watch;
  emio::Executor* executor = nullptr;
  CListener* self = nullptr;
  emio_stream* target = nullptr;
  AcceptCallback callback = nullptr;
  void* context = nullptr;
};
using Listener = ListenerOf<emio::TcpListener, emio_tcp_listener, emio_accept_cb>;
using UnixListener = ListenerOf<emio::UnixListener, emio_unix_listener, emio_unix_accept_cb>;

// One pending receive or send of a datagram socket.
struct PendingDatagram {
  emio::IoWatch watch;
  std::byte* data = nullptr;
  size_t size = 0;
  emio_datagram_cb callback = nullptr;
  void* context = nullptr;
};

// A UDP or Unix datagram socket.
struct Datagram {
  emio::DatagramSocket socket;
  emio::SocketAddress destination;  // of the pending send_to; empty for a send to the connected peer
  emio::Executor* executor = nullptr;
  emio_datagram* self = nullptr;
  PendingDatagram receiving;
  PendingDatagram sending;
};

struct Watchdog {
  emio::systemd::Watchdog watchdog;
};

struct Watch;

// One direction of a Watch: its arm, and the readiness its last callback saw (cleared at the next arm,
// when the caller has met EAGAIN since).
struct WatchDirection {
  emio::IoWatch watch;
  emio::ReadyEvent seen{};
  bool has_seen = false;
  Watch* owner = nullptr;
  int direction = EMIO_READABLE;
  emio_watch_cb callback = nullptr;
  void* context = nullptr;
};

struct Watch {
  emio::PollFd source;
  emio::Executor* executor = nullptr;
  emio_watch* self = nullptr;
  WatchDirection directions[2];
};

// The last 8 bytes of every C struct say whether it holds a live object: the opening call sets them,
// the closing call clears them, so a call on a closed object answers EMIO_ESTALE and a second close does
// nothing. Zeroed storage (a static struct never opened) reads as closed.
constexpr uint64_t open_mark = 0x656d696f2d6f706eULL;  // "emio-opn"
constexpr size_t open_mark_bytes = sizeof open_mark;

template <typename CStruct>
unsigned char* mark_bytes(CStruct* c_struct) {
  return c_struct->opaque.bytes + sizeof c_struct->opaque.bytes - open_mark_bytes;
}
template <typename CStruct>
bool is_open(const CStruct* c_struct) {
  uint64_t mark = 0;
  std::memcpy(&mark, c_struct->opaque.bytes + sizeof c_struct->opaque.bytes - open_mark_bytes, open_mark_bytes);
  return mark == open_mark;
}

// The published sizes must hold the objects (and the mark) on every target: a failure here means emio.h
// needs larger EMIO_*_SIZE values (an ABI change for C callers, who must recompile).
template <typename Object, typename CStruct>
constexpr bool fits() {
  if (sizeof(Object) + open_mark_bytes > sizeof(CStruct)) return false;
  return alignof(Object) <= alignof(CStruct);
}
static_assert(fits<Runtime, emio_runtime>(), "EMIO_RUNTIME_SIZE is too small");
static_assert(fits<Timer, emio_timer>(), "EMIO_TIMER_SIZE is too small");
static_assert(fits<Signals, emio_signals>(), "EMIO_SIGNALS_SIZE is too small");
static_assert(fits<Listener, emio_tcp_listener>(), "EMIO_TCP_LISTENER_SIZE is too small");
static_assert(fits<UnixListener, emio_unix_listener>(), "EMIO_UNIX_LISTENER_SIZE is too small");
static_assert(fits<Stream, emio_stream>(), "EMIO_STREAM_SIZE is too small");
static_assert(fits<Watch, emio_watch>(), "EMIO_WATCH_SIZE is too small");
static_assert(fits<Datagram, emio_datagram>(), "EMIO_DATAGRAM_SIZE is too small");
static_assert(fits<Watchdog, emio_watchdog>(), "EMIO_WATCHDOG_SIZE is too small");

template <typename Object, typename CStruct>
Object& object_of(CStruct* c_struct) {
  return *std::launder(reinterpret_cast<Object*>(c_struct->opaque.bytes));
}
template <typename Object, typename CStruct>
const Object& object_of(const CStruct* c_struct) {
  return *std::launder(reinterpret_cast<const Object*>(c_struct->opaque.bytes));
}
template <typename Object, typename CStruct>
Object& construct(CStruct* c_struct) {
  std::memcpy(mark_bytes(c_struct), &open_mark, open_mark_bytes);
  return *new (c_struct->opaque.bytes) Object();
}
template <typename Object, typename CStruct>
void destroy(CStruct* c_struct) {
  if (!is_open(c_struct)) return;
  object_of<Object>(c_struct).~Object();
  std::memset(mark_bytes(c_struct), 0, open_mark_bytes);
}

inline emio::Executor& executor_of(emio_runtime* runtime) { return object_of<Runtime>(runtime).executor; }

// emio::Error as the C API's int: -errno for the OS's errors, EMIO_E* for emio's own.
int to_c(emio::Error error);

}  // namespace emio_capi

namespace emio_capi {
// Constructs the Stream behind `stream` around an open, registered source (stream.cc).
void open_stream(emio_stream* stream, emio::Executor& executor, emio::PollFd source, bool is_socket);
}  // namespace emio_capi
