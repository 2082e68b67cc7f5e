// SPDX-License-Identifier: MIT
// emio_udp_*, emio_unix_datagram_* and emio_datagram_*: one datagram per callback, over IoWatch readiness.
#include <utility>

#include "emio/runtime/address.h"
#include "objects.h"

using emio_capi::Datagram;
using emio_capi::is_open;
using emio_capi::object_of;
using emio_capi::PendingDatagram;
using emio_capi::to_c;

namespace {

void complete(Datagram& socket, PendingDatagram& io, long result, const char* peer) {
  io.data = nullptr;
  io.callback(socket.self, result, peer, io.context);  // last: the callback may close the socket
}

void on_readable(void* context, emio::ReadyEvent event);
void on_writable(void* context, emio::ReadyEvent event);

// Arms `io` for its direction; a failure completes it with the error.
void arm(Datagram& socket, PendingDatagram& io) {
  const bool reading = &io == &socket.receiving;
  const emio::Error error = io.watch.arm(*socket.executor, socket.socket.registration(),
                                         reading ? emio::Direction::read : emio::Direction::write,
                                         reading ? on_readable : on_writable, &socket);
  if (error.failed()) complete(socket, io, to_c(error), nullptr);
}

void on_readable(void* context, emio::ReadyEvent event) {
  Datagram& socket = *static_cast<Datagram*>(context);
  PendingDatagram& io = socket.receiving;
  if (event.shut_down) return complete(socket, io, EMIO_ESHUTDOWN, nullptr);
  emio::SocketAddress sender;
  emio::Result<size_t> got = socket.socket.try_recv_from(std::span<std::byte>(io.data, io.size), &sender);
  if (emio::is_would_block(got)) return arm(socket, io);
  if (!got.ok()) return complete(socket, io, to_c(got.error()), nullptr);
  char peer[EMIO_ADDRESS_TEXT_SIZE];
  (void)sender.format(std::span<char>(peer));
  complete(socket, io, static_cast<long>(got.value()), peer);
}

void on_writable(void* context, emio::ReadyEvent event) {
  Datagram& socket = *static_cast<Datagram*>(context);
  PendingDatagram& io = socket.sending;
  if (event.shut_down) return complete(socket, io, EMIO_ESHUTDOWN, nullptr);
  const std::span<const std::byte> datagram(io.data, io.size);
  emio::Result<size_t> sent = socket.destination.family() == AF_UNSPEC
                                  ? socket.socket.try_send(datagram)
                                  : socket.socket.try_send_to(datagram, socket.destination);
  if (emio::is_would_block(sent)) return arm(socket, io);
  complete(socket, io, sent.ok() ? static_cast<long>(sent.value()) : to_c(sent.error()), nullptr);
}

// Starts `io`; the first attempt runs from the loop too (arming a ready socket calls back next turn).
int start(emio_datagram* c_socket, bool receiving, const void* data, size_t size, emio_datagram_cb callback,
          void* context) {
  Datagram& socket = object_of<Datagram>(c_socket);
  PendingDatagram& io = receiving ? socket.receiving : socket.sending;
  if (io.data != nullptr) return -EBUSY;
  io.data = static_cast<std::byte*>(const_cast<void*>(data));  // a send only reads through it
  io.size = size;
  io.callback = callback;
  io.context = context;
  const emio::Direction direction = receiving ? emio::Direction::read : emio::Direction::write;
  const emio::Error error = io.watch.arm(*socket.executor, socket.socket.registration(), direction,
                                         receiving ? on_readable : on_writable, &socket);
  if (error.failed()) io.data = nullptr;
  return to_c(error);
}

// Constructs the Datagram behind `c_socket` around an open, registered socket.
template <typename Socket>
int open_datagram(emio::Executor& executor, emio_datagram* c_socket, emio::Result<Socket> opened) {
  if (!opened.ok()) return to_c(opened.error());
  Datagram& object = emio_capi::construct<Datagram>(c_socket);
  object.socket = std::move(opened.value());
  object.executor = &executor;
  object.self = c_socket;
  return EMIO_OK;
}

template <typename Socket>
int bind(emio_runtime* runtime, emio_datagram* c_socket, const char* address) {
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(address != nullptr ? address : "");
  if (!parsed.ok()) return to_c(parsed.error());
  emio::Executor& executor = emio_capi::executor_of(runtime);
  return open_datagram(executor, c_socket, Socket::bind(executor.handle(), parsed.value()));
}

}  // namespace

extern "C" {

int emio_udp_bind(emio_runtime* runtime, emio_datagram* socket, const char* address) {
  return bind<emio::UdpSocket>(runtime, socket, address);
}

int emio_unix_datagram_bind(emio_runtime* runtime, emio_datagram* socket, const char* path) {
  return bind<emio::UnixDatagram>(runtime, socket, path);
}

int emio_unix_datagram_open(emio_runtime* runtime, emio_datagram* socket) {
  emio::Executor& executor = emio_capi::executor_of(runtime);
  return open_datagram(executor, socket, emio::UnixDatagram::unbound(executor.handle()));
}

int emio_datagram_connect(emio_datagram* socket, const char* peer) {
  if (!is_open(socket)) return EMIO_ESTALE;
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(peer != nullptr ? peer : "");
  if (!parsed.ok()) return to_c(parsed.error());
  return to_c(object_of<Datagram>(socket).socket.connect(parsed.value()));
}

int emio_datagram_address(const emio_datagram* socket, char* text, size_t text_size) {
  if (!is_open(socket)) return EMIO_ESTALE;
  emio::Result<emio::SocketAddress> bound = object_of<Datagram>(socket).socket.local_address();
  if (!bound.ok()) return to_c(bound.error());
  (void)bound.value().format(std::span<char>(text, text_size));
  return EMIO_OK;
}

int emio_datagram_recv(emio_datagram* socket, void* buffer, size_t size, emio_datagram_cb callback, void* context) {
  if (!is_open(socket)) return EMIO_ESTALE;
  return start(socket, true, buffer, size, callback, context);
}

int emio_datagram_send_to(emio_datagram* socket, const void* data, size_t size, const char* destination,
                          emio_datagram_cb callback, void* context) {
  if (!is_open(socket)) return EMIO_ESTALE;
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(destination != nullptr ? destination : "");
  if (!parsed.ok()) return to_c(parsed.error());
  Datagram& object = object_of<Datagram>(socket);
  if (object.sending.data != nullptr) return -EBUSY;  // before the pending send's destination is replaced
  object.destination = parsed.value();
  return start(socket, false, data, size, callback, context);
}

int emio_datagram_send(emio_datagram* socket, const void* data, size_t size, emio_datagram_cb callback, void* context) {
  if (!is_open(socket)) return EMIO_ESTALE;
  Datagram& object = object_of<Datagram>(socket);
  if (object.sending.data != nullptr) return -EBUSY;
  object.destination = emio::SocketAddress{};
  return start(socket, false, data, size, callback, context);
}

int emio_datagram_fd(const emio_datagram* socket) {
  return is_open(socket) ? object_of<Datagram>(socket).socket.fd() : -1;
}

void emio_datagram_close(emio_datagram* socket) {
  emio_capi::destroy<Datagram>(socket);  // the watches disarm first (declared last), then the socket closes
}

}  // extern "C"
