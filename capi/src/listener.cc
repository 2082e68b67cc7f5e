// SPDX-License-Identifier: MIT
// emio_tcp_* and emio_unix_listen/accept: stream listeners whose accepts complete into caller-provided
// emio_stream storage. One template serves both kinds.
#include <utility>

#include "emio/runtime/address.h"
#include "objects.h"

using emio_capi::is_open;
using emio_capi::object_of;
using emio_capi::to_c;

namespace {

template <typename Listener>
void complete(Listener& listener, int status) {
  listener.target = nullptr;
  listener.callback(listener.self, status, listener.context);  // last: it may accept again or close
}

template <typename Listener>
void on_acceptable(void* context, emio::ReadyEvent event) {
  Listener& listener = *static_cast<Listener*>(context);
  if (event.shut_down) return complete(listener, EMIO_ESHUTDOWN);
  auto accepted = listener.listener.try_accept();
  if (emio::is_would_block(accepted)) {
    const emio::Error error = listener.watch.arm(*listener.executor, listener.listener.registration(),
                                                 emio::Direction::read, on_acceptable<Listener>, &listener);
    if (error.failed()) complete(listener, to_c(error));
    return;
  }
  if (!accepted.ok()) return complete(listener, to_c(accepted.error()));
  emio_capi::open_stream(listener.target, *listener.executor, std::move(accepted.value().source()), true);
  complete(listener, EMIO_OK);
}

// Constructs the Listener behind `c_listener` around a bound (or adopted) socket.
template <typename Listener, typename CListener, typename Opened>
int open_listener(emio::Executor& executor, CListener* c_listener, Opened opened) {
  if (!opened.ok()) return to_c(opened.error());
  Listener& object = emio_capi::construct<Listener>(c_listener);
  object.listener = std::move(opened.value());
  object.executor = &executor;
  object.self = c_listener;
  return EMIO_OK;
}

template <typename Listener, typename CListener>
int listen(emio_runtime* runtime, CListener* c_listener, const char* address) {
  using Socket = decltype(Listener::listener);
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(address != nullptr ? address : "");
  if (!parsed.ok()) return to_c(parsed.error());
  emio::Executor& executor = emio_capi::executor_of(runtime);
  return open_listener<Listener>(executor, c_listener, Socket::bind(executor.handle(), parsed.value()));
}

template <typename Listener, typename CListener>
int adopt(emio_runtime* runtime, CListener* c_listener, int fd) {
  using Socket = decltype(Listener::listener);
  emio::Executor& executor = emio_capi::executor_of(runtime);
  return open_listener<Listener>(executor, c_listener, Socket::adopt(executor.handle(), emio::Fd(fd)));
}

template <typename Listener, typename CListener>
int address_of(const CListener* c_listener, char* text, size_t text_size) {
  if (!is_open(c_listener)) return EMIO_ESTALE;
  emio::Result<emio::SocketAddress> bound = object_of<Listener>(c_listener).listener.local_address();
  if (!bound.ok()) return to_c(bound.error());
  (void)bound.value().format(std::span<char>(text, text_size));
  return EMIO_OK;
}

template <typename Listener, typename CListener, typename Callback>
int accept(CListener* c_listener, emio_stream* stream, Callback callback, void* context) {
  if (!is_open(c_listener)) return EMIO_ESTALE;
  Listener& object = object_of<Listener>(c_listener);
  if (object.target != nullptr) return -EBUSY;
  object.target = stream;
  object.callback = callback;
  object.context = context;
  const emio::Error error = object.watch.arm(*object.executor, object.listener.registration(), emio::Direction::read,
                                             on_acceptable<Listener>, &object);
  if (error.failed()) object.target = nullptr;
  return to_c(error);
}

}  // namespace

using emio_capi::Listener;
using emio_capi::UnixListener;

extern "C" {

int emio_tcp_listen(emio_runtime* runtime, emio_tcp_listener* listener, const char* address) {
  return listen<Listener>(runtime, listener, address);
}

int emio_tcp_listener_adopt(emio_runtime* runtime, emio_tcp_listener* listener, int fd) {
  return adopt<Listener>(runtime, listener, fd);
}

int emio_tcp_listener_address(const emio_tcp_listener* listener, char* text, size_t text_size) {
  return address_of<Listener>(listener, text, text_size);
}

int emio_tcp_accept(emio_tcp_listener* listener, emio_stream* stream, emio_accept_cb callback, void* context) {
  return accept<Listener>(listener, stream, callback, context);
}

void emio_tcp_listener_close(emio_tcp_listener* listener) {
  emio_capi::destroy<Listener>(listener);  // the watch disarms, then the listener closes
}

int emio_unix_listen(emio_runtime* runtime, emio_unix_listener* listener, const char* path) {
  return listen<UnixListener>(runtime, listener, path);
}

int emio_unix_listener_adopt(emio_runtime* runtime, emio_unix_listener* listener, int fd) {
  return adopt<UnixListener>(runtime, listener, fd);
}

int emio_unix_listener_address(const emio_unix_listener* listener, char* text, size_t text_size) {
  return address_of<UnixListener>(listener, text, text_size);
}

int emio_unix_accept(emio_unix_listener* listener, emio_stream* stream, emio_unix_accept_cb callback, void* context) {
  return accept<UnixListener>(listener, stream, callback, context);
}

void emio_unix_listener_close(emio_unix_listener* listener) { emio_capi::destroy<UnixListener>(listener); }

}  // extern "C"
