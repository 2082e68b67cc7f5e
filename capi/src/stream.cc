// SPDX-License-Identifier: MIT
// emio_stream_*, emio_tcp_connect and emio_unix_connect: one-shot reads and whole writes over IoWatch
// readiness.
#include <sys/socket.h>

#include <utility>

#include "emio/port/socket.h"
#include "objects.h"

using emio_capi::object_of;
using emio_capi::PendingIo;
using emio_capi::Stream;
using emio_capi::to_c;

namespace {

emio::Result<size_t> attempt_read(Stream& stream, PendingIo& io) {
  return stream.source.try_read(std::span<std::byte>(io.data + io.done, io.size - io.done));
}

emio::Result<size_t> attempt_write(Stream& stream, PendingIo& io) {
  const std::span<const std::byte> rest(io.data + io.done, io.size - io.done);
  if (!stream.is_socket) return stream.source.try_write(rest);
  return stream.source.try_io(emio::Direction::write, [&] {
    return ::send(stream.source.fd(), rest.data(), rest.size(), emio::send_flags_no_sigpipe);
  });
}

void complete(Stream& stream, PendingIo& io, long result) {
  io.data = nullptr;
  io.callback(stream.self, result, io.context);  // last: the callback may close the stream
}

void on_readable(void* context, emio::ReadyEvent event);
void on_writable(void* context, emio::ReadyEvent event);

void arm(Stream& stream, PendingIo& io, emio::Direction direction) {
  const emio::IoWatch::Callback callback = direction == emio::Direction::read ? on_readable : on_writable;
  const emio::Error error = io.watch.arm(*stream.executor, stream.source.registration(), direction, callback, &stream);
  if (error.failed()) complete(stream, io, to_c(error));
}

void on_readable(void* context, emio::ReadyEvent event) {
  Stream& stream = *static_cast<Stream*>(context);
  if (event.shut_down) return complete(stream, stream.reading, EMIO_ESHUTDOWN);
  emio::Result<size_t> got = attempt_read(stream, stream.reading);
  if (emio::is_would_block(got)) return arm(stream, stream.reading, emio::Direction::read);
  complete(stream, stream.reading, got.ok() ? static_cast<long>(got.value()) : to_c(got.error()));
}

void on_writable(void* context, emio::ReadyEvent event) {
  Stream& stream = *static_cast<Stream*>(context);
  PendingIo& io = stream.writing;
  if (event.shut_down) return complete(stream, io, EMIO_ESHUTDOWN);
  while (io.done < io.size) {
    emio::Result<size_t> sent = attempt_write(stream, io);
    if (emio::is_would_block(sent)) return arm(stream, io, emio::Direction::write);
    if (!sent.ok()) return complete(stream, io, to_c(sent.error()));
    io.done += sent.value();
  }
  complete(stream, io, static_cast<long>(io.size));
}

int start(Stream& stream, PendingIo& io, emio::Direction direction, const void* data, size_t size, emio_io_cb callback,
          void* context) {
  if (stream.connecting.has_value()) return -ENOTCONN;
  if (io.data != nullptr) return -EBUSY;
  io.data = static_cast<std::byte*>(const_cast<void*>(data));  // a write only reads through it
  io.size = size;
  io.done = 0;
  io.callback = callback;
  io.context = context;
  // The first attempt runs from the loop too: arming a ready source calls back at the next turn.
  const emio::IoWatch::Callback on_ready = direction == emio::Direction::read ? on_readable : on_writable;
  const emio::Error error = io.watch.arm(*stream.executor, stream.source.registration(), direction, on_ready, &stream);
  if (error.failed()) io.data = nullptr;
  return to_c(error);
}

void finish_connect(Stream& stream, int status) {
  if (status == EMIO_OK) stream.source = std::move(stream.connecting->source());
  stream.connecting.reset();  // a failed attempt's socket closes now; the stream stays to be closed
  stream.on_connected(stream.self, status, stream.connect_context);  // last: the callback may close it
}

void on_connect_writable(void* context, emio::ReadyEvent event) {
  Stream& stream = *static_cast<Stream*>(context);
  if (event.shut_down) return finish_connect(stream, EMIO_ESHUTDOWN);
  const emio::Error result = stream.connecting->connect_result();
  if (result != emio::in_progress) return finish_connect(stream, to_c(result));
  // Writable before connected (ConnectOp meets the same): forget this edge and wait for the next one.
  stream.connecting->source().io().clear_readiness(event);
  const emio::Error error = stream.writing.watch.arm(*stream.executor, stream.connecting->registration(),
                                                     emio::Direction::write, on_connect_writable, &stream);
  if (error.failed()) finish_connect(stream, to_c(error));
}

template <typename Socket>
int connect(emio_runtime* runtime, emio_stream* stream, const char* address, emio_connect_cb callback, void* context) {
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(address != nullptr ? address : "");
  if (!parsed.ok()) return to_c(parsed.error());
  if (!Socket::accepts(parsed.value())) return -EINVAL;
  emio::Executor& executor = emio_capi::executor_of(runtime);
  emio::Result<Socket> started = Socket::connect_start(executor.handle(), parsed.value());
  if (!started.ok()) return to_c(started.error());
  Stream& object = emio_capi::construct<Stream>(stream);
  object.connecting.emplace(std::move(started.value()));
  object.executor = &executor;
  object.self = stream;
  object.is_socket = true;
  object.on_connected = callback;
  object.connect_context = context;
  const emio::Error error = object.writing.watch.arm(executor, object.connecting->registration(),
                                                     emio::Direction::write, on_connect_writable, &object);
  if (error.failed()) emio_capi::destroy<Stream>(stream);
  return to_c(error);
}

}  // namespace

namespace emio_capi {

void open_stream(emio_stream* stream, emio::Executor& executor, emio::PollFd source, bool is_socket) {
  Stream& object = construct<Stream>(stream);
  object.source = std::move(source);
  object.executor = &executor;
  object.self = stream;
  object.is_socket = is_socket;
}

}  // namespace emio_capi

extern "C" {

int emio_stream_read(emio_stream* stream, void* buffer, size_t size, emio_io_cb callback, void* context) {
  if (!emio_capi::is_open(stream)) return EMIO_ESTALE;
  Stream& object = object_of<Stream>(stream);
  return start(object, object.reading, emio::Direction::read, buffer, size, callback, context);
}

int emio_stream_write(emio_stream* stream, const void* data, size_t size, emio_io_cb callback, void* context) {
  if (!emio_capi::is_open(stream)) return EMIO_ESTALE;
  Stream& object = object_of<Stream>(stream);
  return start(object, object.writing, emio::Direction::write, data, size, callback, context);
}

int emio_tcp_connect(emio_runtime* runtime, emio_stream* stream, const char* address, emio_connect_cb callback,
                     void* context) {
  return connect<emio::TcpStream>(runtime, stream, address, callback, context);
}

int emio_unix_connect(emio_runtime* runtime, emio_stream* stream, const char* path, emio_connect_cb callback,
                      void* context) {
  return connect<emio::UnixStream>(runtime, stream, path, callback, context);
}

int emio_stream_fd(const emio_stream* stream) {
  if (!emio_capi::is_open(stream)) return -1;
  const Stream& object = object_of<Stream>(stream);
  return object.connecting.has_value() ? object.connecting->fd() : object.source.fd();
}

void emio_stream_close(emio_stream* stream) {
  // The watches disarm first (members go in reverse order), then the source deregisters and closes.
  emio_capi::destroy<Stream>(stream);
}

}  // extern "C"
