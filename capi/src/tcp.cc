// SPDX-License-Identifier: MIT
// emio_tcp_*: a TcpListener whose accepts complete into caller-provided emio_stream storage.
#include <utility>

#include "emio/runtime/address.h"
#include "objects.h"

using emio_capi::Listener;
using emio_capi::object_of;
using emio_capi::to_c;

namespace {

void complete(Listener& listener, int status) {
  listener.target = nullptr;
  listener.callback(listener.self, status, listener.context);  // last: it may accept again or close
}

void on_acceptable(void* context, emio::ReadyEvent event) {
  Listener& listener = *static_cast<Listener*>(context);
  if (event.shut_down) return complete(listener, EMIO_ESHUTDOWN);
  emio::Result<emio::TcpStream> accepted = listener.listener.try_accept();
  if (emio::is_would_block(accepted)) {
    const emio::Error error = listener.watch.arm(*listener.executor, listener.listener.registration(),
                                                 emio::Direction::read, on_acceptable, &listener);
    if (error.failed()) complete(listener, to_c(error));
    return;
  }
  if (!accepted.ok()) return complete(listener, to_c(accepted.error()));
  emio_capi::open_stream(listener.target, *listener.executor, std::move(accepted.value().source()), true);
  complete(listener, EMIO_OK);
}

// Constructs the Listener behind `listener` around a bound (or adopted) socket.
int open_listener(emio::Executor& executor, emio_tcp_listener* listener, emio::Result<emio::TcpListener> opened) {
  if (!opened.ok()) return to_c(opened.error());
  Listener& object = emio_capi::construct<Listener>(listener);
  object.listener = std::move(opened.value());
  object.executor = &executor;
  object.self = listener;
  return EMIO_OK;
}

}  // namespace

extern "C" {

int emio_tcp_listen(emio_runtime* runtime, emio_tcp_listener* listener, const char* address) {
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(address != nullptr ? address : "");
  if (!parsed.ok()) return to_c(parsed.error());
  if (!parsed.value().is_ip()) return -EINVAL;
  emio::Executor& executor = emio_capi::executor_of(runtime);
  return open_listener(executor, listener, emio::TcpListener::bind(executor.handle(), parsed.value()));
}

int emio_tcp_listener_adopt(emio_runtime* runtime, emio_tcp_listener* listener, int fd) {
  emio::Executor& executor = emio_capi::executor_of(runtime);
  return open_listener(executor, listener, emio::TcpListener::adopt(executor.handle(), emio::Fd(fd)));
}

int emio_tcp_listener_address(const emio_tcp_listener* listener, char* text, size_t text_size) {
  emio::Result<emio::SocketAddress> bound = object_of<Listener>(listener).listener.local_address();
  if (!bound.ok()) return to_c(bound.error());
  (void)bound.value().format(std::span<char>(text, text_size));
  return EMIO_OK;
}

int emio_tcp_accept(emio_tcp_listener* listener, emio_stream* stream, emio_accept_cb callback, void* context) {
  Listener& object = object_of<Listener>(listener);
  if (object.target != nullptr) return -EBUSY;
  object.target = stream;
  object.callback = callback;
  object.context = context;
  const emio::Error error =
      object.watch.arm(*object.executor, object.listener.registration(), emio::Direction::read, on_acceptable, &object);
  if (error.failed()) object.target = nullptr;
  return to_c(error);
}

void emio_tcp_listener_close(emio_tcp_listener* listener) {
  emio_capi::destroy<Listener>(listener);  // the watch disarms, then the listener closes
}

}  // extern "C"
