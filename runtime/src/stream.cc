// SPDX-License-Identifier: MIT
#include "emio/runtime/stream.h"

#include "emio/port/socket.h"
#include "socket_calls.h"
#include "socket_ops.h"

namespace emio {
namespace {

// A read's buffer, kept as the bytes every StreamTransferOp holds.
std::span<std::byte> writable(std::span<const std::byte> bytes) {
  return {const_cast<std::byte*>(bytes.data()), bytes.size()};  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

constexpr Interest readable_and_writable = Interest::readable | Interest::writable;

// socket() + connect() for `address`, registered, as a `Stream` that knows whether it is still connecting.
template <typename Stream>
Result<Stream> connect_as(Handle handle, const SocketAddress& address) {
  if (!Stream::accepts(address)) return Error::from_errno(EINVAL);
  Result<Fd> fd = detail::open_socket(address.family(), SOCK_STREAM);
  if (!fd.ok()) return fd.error();
  bool connecting = false;
  if (detail::connect_fd(fd.value().get(), address.native(), address.native_length()) < 0) {
    // EINPROGRESS: the usual answer of a non-blocking connect; the result comes with writability.
    if (errno != EINPROGRESS) return Error::last_os_error();
    connecting = true;
  }
  Result<PollFd> source = PollFd::adopt(handle, std::move(fd.value()), readable_and_writable);
  if (!source.ok()) return source.error();
  return Stream(std::move(source.value()), connecting);
}

}  // namespace

IoOp<Result<size_t>, StreamTransferOp::Attempt> StreamTransferOp::readiness_op(StreamSocket& stream, Kind kind,
                                                                               std::span<const std::byte> bytes) {
  const Direction direction = kind == Kind::read ? Direction::read : Direction::write;
  return {stream.registration(), direction, Attempt{&stream, bytes, kind}};
}

Result<size_t> StreamTransferOp::Attempt::operator()() {
  if (kind == Kind::read) return stream->try_read(writable(bytes));
  if (kind == Kind::write) return stream->try_write(bytes);
  while (written < bytes.size()) {
    Result<size_t> sent = stream->try_write(bytes.subspan(written));
    if (!sent.ok()) return sent.error();  // would_block: waits, resumes
    written += sent.value();
  }
  return written;
}

bool StreamTransferOp::poll(PollContext& context) {
  if (!chosen_) {
    chosen_ = true;
    native_ = stream_->native_record(context.executor);
  }
  return native_ != nullptr ? poll_native(context) : readiness_.poll(context);
}

bool StreamTransferOp::poll_native(PollContext& context) {
  if (kind_ == Kind::read) return native_->poll_read(writable(bytes_), context.waker, output_);
  for (;;) {
    if (kind_ == Kind::write_all && written_ == bytes_.size()) {
      output_.emplace(written_);
      return true;
    }
    std::optional<Result<size_t>> sent;
    if (!native_->poll_write(bytes_.subspan(written_), context.waker, sent)) return false;
    if (kind_ == Kind::write || !sent->ok()) {
      output_.emplace(std::move(*sent));
      return true;
    }
    written_ += sent->value();
  }
}

void StreamTransferOp::cancel() {
  if (native_ == nullptr) return readiness_.cancel();
  if (kind_ == Kind::read) {
    native_->forget_reader();
  } else {
    native_->forget_writer();
  }
}

StreamSocket& StreamSocket::operator=(StreamSocket&& other) noexcept {
  if (this != &other) {
    (void)close();
    connecting_ = other.connecting_;
    connect_error_ = other.connect_error_;
    native_ = std::move(other.native_);
    IoResource::operator=(std::move(other));
  }
  return *this;
}

NativeStream* StreamSocket::native_record(Executor& executor) {
  if (native_.held()) return native_.get(executor.native_streams(), fd());
  if (!is_open()) return nullptr;
  NativeStream* record = native_.get(executor.native_streams(), fd());
  if (record != nullptr) (void)source_.forget_readiness();  // its events would only cost
  return record;
}

Error StreamSocket::close() {
  if (!native_.held()) return source_.close();
  Fd fd;
  const Error deregistered = source_.release(fd);
  native_.reset(std::move(fd));
  return deregistered;
}

// A byte stream: a short transfer drained the direction (see PollFd::try_io).
Result<size_t> StreamSocket::try_read(std::span<std::byte> buffer) {
  return source_.try_io(
      Direction::read, [&] { return detail::recv_fd(fd(), buffer.data(), buffer.size()); }, buffer.size());
}

Result<size_t> StreamSocket::try_write(std::span<const std::byte> data) {
  return source_.try_io(
      Direction::write, [&] { return detail::send_fd(fd(), data.data(), data.size()); }, data.size());
}

Error StreamSocket::shutdown_write() {
  if (detail::shutdown_write_fd(fd()) < 0) return Error::last_os_error();
  return Error{};
}

Error StreamSocket::connect_result() {
  if (!connecting_) return connect_error_;
  // SO_ERROR is reported once: keep the verdict, later calls must not mistake the cleared 0 for success.
  const Error pending = detail::take_socket_error(fd());
  if (pending.failed()) {
    connecting_ = false;
    connect_error_ = pending;
    return pending;
  }
  Result<SocketAddress> peer = detail::socket_name(fd(), true);
  if (peer.ok()) {
    connecting_ = false;
    return Error{};
  }
  if (peer.error() != Error::from_errno(ENOTCONN)) return peer.error();
  // Not connected and no error, yet the socket hung up: the attempt failed and its SO_ERROR was read
  // before us (libkqueue reads it into the event it reports). Say ENOTCONN rather than wait for ever.
  const Ready seen = source_.io().readiness(Direction::read).ready | source_.io().readiness(Direction::write).ready;
  if (!seen.intersects(Ready::final_states | Ready::error)) return in_progress;
  connecting_ = false;
  connect_error_ = Error::from_errno(ENOTCONN);
  return connect_error_;
}

Result<SocketAddress> StreamSocket::local_address() const { return detail::socket_name(fd(), false); }
Result<SocketAddress> StreamSocket::peer_address() const { return detail::socket_name(fd(), true); }

Result<TcpStream> TcpStream::connect_start(Handle handle, const SocketAddress& address) {
  return connect_as<TcpStream>(handle, address);
}

Error TcpStream::set_nodelay(bool enabled) {
  return detail::set_socket_option(fd(), IPPROTO_TCP, TCP_NODELAY, enabled ? 1 : 0);
}

Result<UnixStream> UnixStream::connect_start(Handle handle, const SocketAddress& address) {
  return connect_as<UnixStream>(handle, address);
}

Result<UnixStreamPair> UnixStream::pair(Handle handle) {
  Result<detail::PollFdPair> ends = detail::registered_socket_pair(handle, SOCK_STREAM);
  if (!ends.ok()) return ends.error();
  return UnixStreamPair{UnixStream(std::move(ends.value().first)), UnixStream(std::move(ends.value().second))};
}

template <typename Stream>
Result<StreamListener<Stream>> StreamListener<Stream>::bind(Handle handle, const SocketAddress& address, int backlog) {
  if (!Stream::accepts(address)) return Error::from_errno(EINVAL);
  Result<Fd> fd = detail::open_socket(address.family(), SOCK_STREAM);
  if (!fd.ok()) return fd.error();
  if (address.is_ip()) {
    if (Error error = detail::set_socket_option(fd.value().get(), SOL_SOCKET, detail::listener_address_option, 1);
        error.failed()) {
      return error;
    }
  }
  if (Error error = detail::bind_socket(fd.value().get(), address); error.failed()) return error;
  if (detail::listen_on_fd(fd.value().get(), backlog) < 0) return Error::last_os_error();
  Result<PollFd> source = PollFd::adopt(handle, std::move(fd.value()), Interest::readable);
  if (!source.ok()) return source.error();
  return StreamListener(std::move(source.value()));
}

template <typename Stream>
Result<StreamListener<Stream>> StreamListener<Stream>::adopt(Handle handle, Fd fd) {
  int value = 0;
  if (detail::get_option_fd(fd.get(), SOL_SOCKET, SO_TYPE, &value) < 0) return Error::last_os_error();  // ENOTSOCK
  if (value != SOCK_STREAM) return Error::from_errno(EINVAL);
  if (detail::get_option_fd(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &value) < 0) return Error::last_os_error();
  if (value == 0) return Error::from_errno(EINVAL);  // bound or connected, but not listening
  Result<SocketAddress> bound = detail::socket_name(fd.get(), false);
  if (!bound.ok()) return bound.error();
  if (!Stream::accepts(bound.value())) return Error::from_errno(EINVAL);
  Result<PollFd> source = PollFd::adopt(handle, std::move(fd), Interest::readable);
  if (!source.ok()) return source.error();
  return StreamListener(std::move(source.value()));
}

template <typename Stream>
Result<Stream> StreamListener<Stream>::try_accept(SocketAddress* peer) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  auto* native = reinterpret_cast<sockaddr*>(&storage);
  Result<size_t> accepted =
      source_.try_io(Direction::read, [&] { return static_cast<ssize_t>(accept_nonblocking(fd(), native, &length)); });
  if (!accepted.ok()) return accepted.error();
  Fd connection(static_cast<int>(accepted.value()));
  if (peer != nullptr) *peer = SocketAddress::from_native(native, length);
  Result<PollFd> source = PollFd::adopt(source_.handle(), std::move(connection), readable_and_writable);
  if (!source.ok()) return source.error();
  return Stream(std::move(source.value()));
}

template <typename Stream>
Result<SocketAddress> StreamListener<Stream>::local_address() const {
  return detail::socket_name(fd(), false);
}

template class StreamListener<TcpStream>;
template class StreamListener<UnixStream>;

}  // namespace emio
