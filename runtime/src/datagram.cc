// SPDX-License-Identifier: MIT
#include "emio/runtime/datagram.h"

#include "emio/port/socket.h"
#include "emio/runtime/socket_calls.h"
#include "socket_ops.h"

namespace emio {

Result<PollFd> DatagramSocket::open_source(Handle handle, int family, const SocketAddress& address) {
  Result<Fd> fd = detail::open_socket(family, SOCK_DGRAM);
  if (!fd.ok()) return fd.error();
  if (address.family() != AF_UNSPEC) {
    if (Error error = detail::bind_socket(fd.value().get(), address); error.failed()) return error;
  }
  return PollFd::adopt_nonblocking(handle, std::move(fd.value()), Interest::readable | Interest::writable);
}

Error DatagramSocket::connect(const SocketAddress& peer) {
  if (detail::connect_fd(fd(), peer.native(), peer.native_length()) < 0) return Error::last_os_error();
  return Error{};
}

Result<size_t> DatagramSocket::try_send(std::span<const std::byte> datagram) {
  return source_.try_io(Direction::write, [&] { return detail::send_fd(fd(), datagram.data(), datagram.size()); });
}

Result<size_t> DatagramSocket::try_send_to(std::span<const std::byte> datagram, const SocketAddress& destination) {
  return source_.try_io(Direction::write, [&] {
    return detail::send_to_fd(fd(), datagram.data(), datagram.size(), destination.native(),
                              destination.native_length());
  });
}

Result<size_t> DatagramSocket::try_recv(std::span<std::byte> buffer) { return try_recv_from(buffer, nullptr); }

Result<size_t> DatagramSocket::try_recv_from(std::span<std::byte> buffer, SocketAddress* from) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  auto* native = reinterpret_cast<sockaddr*>(&storage);
  Result<size_t> received = source_.try_io(
      Direction::read, [&] { return detail::recv_from_fd(fd(), buffer.data(), buffer.size(), native, &length); });
  if (received.ok() && from != nullptr) *from = SocketAddress::from_native(native, length);
  return received;
}

Result<SocketAddress> DatagramSocket::local_address() const { return detail::socket_name(fd(), false); }

Result<UdpSocket> UdpSocket::bind(Handle handle, const SocketAddress& address) {
  if (!address.is_ip()) return Error::from_errno(EINVAL);
  Result<PollFd> source = open_source(handle, address.family(), address);
  if (!source.ok()) return source.error();
  return UdpSocket(std::move(source.value()));
}

Result<UnixDatagram> UnixDatagram::bind(Handle handle, const SocketAddress& address) {
  if (!address.is_unix()) return Error::from_errno(EINVAL);
  Result<PollFd> source = open_source(handle, AF_UNIX, address);
  if (!source.ok()) return source.error();
  return UnixDatagram(std::move(source.value()));
}

Result<UnixDatagram> UnixDatagram::unbound(Handle handle) {
  Result<PollFd> source = open_source(handle, AF_UNIX, SocketAddress{});
  if (!source.ok()) return source.error();
  return UnixDatagram(std::move(source.value()));
}

Result<UnixDatagramPair> UnixDatagram::pair(Handle handle) {
  Result<detail::PollFdPair> ends = detail::registered_socket_pair(handle, SOCK_DGRAM);
  if (!ends.ok()) return ends.error();
  return UnixDatagramPair{UnixDatagram(std::move(ends.value().first)), UnixDatagram(std::move(ends.value().second))};
}

}  // namespace emio
