// SPDX-License-Identifier: MIT
#include "emio/runtime/stream.h"

#include "emio/port/socket.h"
#include "emio/runtime/socket_calls.h"
#include "socket_ops.h"

namespace emio {
namespace {

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
  Result<PollFd> source = PollFd::adopt_nonblocking(handle, std::move(fd.value()), readable_and_writable);
  if (!source.ok()) return source.error();
  return Stream(std::move(source.value()), connecting);
}

// A resource's record of `pool`, held from its first await: taking one drops the resource's readiness
// registration (PollFd::forget_readiness), whose events would only cost.
template <typename Record, typename... Args>
Record* record_of(NativeLease<Record>& lease, typename Record::Pool& pool, PollFd& source, Args... args) {
  if (lease.held()) return lease.get(pool, source.fd(), args...);
  if (!source.is_open()) return nullptr;
  Record* record = lease.get(pool, source.fd(), args...);
  if (record != nullptr) (void)source.forget_readiness();
  return record;
}

// Deregisters; the fd closes now, or with a record once the kernel holds nothing of it.
template <typename Record>
Error close_leased(NativeLease<Record>& lease, PollFd& source) {
  if (!lease.held()) return source.close();
  Fd fd;
  const Error deregistered = source.release(fd);
  lease.reset(std::move(fd));
  return deregistered;
}

}  // namespace

// A stream closed by another task while this await was parked gave its record back, maybe to another
// stream by now: this await ends as on readiness (stale_token), and never stores its waker there (it
// took the new owner's place as reader, which was then never woken).
bool StreamTransferOp::poll_native(PollContext& context) {
  if (!native_->held_by(native_claim_)) return finish(Error::stale_token);
  if (kind_ == Kind::read) return native_->poll_read(detail::writable(bytes_), context.waker, output_);
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
  if (route_ == Route::readiness) {
    if (parked_.io != nullptr && is_live(parked_)) parked_.io->clear_waker(direction());
    parked_ = {};
    return;
  }
  if (route_ == Route::unchosen || !native_->held_by(native_claim_)) return;
  if (kind_ == Kind::read) {
    native_->forget_reader();
  } else {
    native_->forget_writer();
  }
}

ByteStream& ByteStream::operator=(ByteStream&& other) noexcept {
  if (this != &other) {
    (void)close();
    transfer_ = other.transfer_;
    native_ = std::move(other.native_);
    IoResource::operator=(std::move(other));
  }
  return *this;
}

NativeStream* ByteStream::take_native_record(Executor& executor) {
  return record_of(native_, executor.native_streams(), source_, transfer_);
}

Error ByteStream::close() { return close_leased(native_, source_); }

Result<size_t> ByteStream::try_read(std::span<std::byte> buffer) {
  if (!is_open()) return Error::stale_token;
  if (native_.held()) {  // the record's received bytes come first (NativeStream::try_read_first)
    if (std::optional<Result<size_t>> first = native_.record()->try_read_first(buffer)) return std::move(*first);
  }
  const uint64_t seen = source_.registration().io != nullptr ? source_.io().snapshot() : 0;
  return detail::receive(source_, transfer_, seen, buffer);
}

Result<size_t> ByteStream::try_write(std::span<const std::byte> data) {
  if (!is_open()) return Error::stale_token;
  if (native_.held()) {  // a write's bytes still in the record go first (NativeStream::try_write_first)
    if (std::optional<Result<size_t>> first = native_.record()->try_write_first()) return std::move(*first);
  }
  const uint64_t seen = source_.registration().io != nullptr ? source_.io().snapshot() : 0;
  return detail::send_some(source_, transfer_, seen, data);
}

StreamSocket& StreamSocket::operator=(StreamSocket&& other) noexcept {
  if (this != &other) {
    // The base closes this stream first; the connect state is other's own (the base moves none of it).
    const bool connecting = other.connecting_;
    const Error connect_error = other.connect_error_;
    ByteStream::operator=(std::move(other));
    connecting_ = connecting;
    connect_error_ = connect_error;
  }
  return *this;
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
  Result<PollFd> source = PollFd::adopt_nonblocking(handle, std::move(fd.value()), Interest::readable);
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
  return adopt_accepted(std::move(connection), nullptr);
}

template <typename Stream>
Result<Stream> StreamListener<Stream>::adopt_accepted(Result<Fd> accepted, SocketAddress* peer) {
  if (!accepted.ok()) return accepted.error();
  if (peer != nullptr) {  // the ring's queue keeps no address per connection: ask the socket
    Result<SocketAddress> address = detail::socket_name(accepted.value().get(), true);
    if (!address.ok()) return address.error();
    *peer = address.value();
  }
  Result<PollFd> source =
      PollFd::adopt_nonblocking(source_.handle(), std::move(accepted.value()), readable_and_writable);
  if (!source.ok()) return source.error();
  return Stream(std::move(source.value()));
}

template <typename Stream>
StreamListener<Stream>& StreamListener<Stream>::operator=(StreamListener&& other) noexcept {
  if (this != &other) {
    (void)close();
    native_ = std::move(other.native_);
    IoResource::operator=(std::move(other));
  }
  return *this;
}

template <typename Stream>
NativeListener* StreamListener<Stream>::native_record(Executor& executor) {
  return record_of(native_, executor.native_streams().listeners(), source_);
}

template <typename Stream>
Error StreamListener<Stream>::close() {
  return close_leased(native_, source_);
}

template <typename Stream>
Result<SocketAddress> StreamListener<Stream>::local_address() const {
  return detail::socket_name(fd(), false);
}

template class StreamListener<TcpStream>;
template class StreamListener<UnixStream>;

}  // namespace emio
