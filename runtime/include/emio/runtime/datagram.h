// SPDX-License-Identifier: MIT
// Datagram sockets: UdpSocket and UnixDatagram. One try_recv returns one datagram (cut to the buffer:
// size buffers for the largest datagram expected); one try_send sends one, whole or not at all
// (EMSGSIZE if too big). ECONNREFUSED may come back from a connected UDP socket whose peer has no
// listener (an ICMP port unreachable).
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/runtime/address.h"
#include "emio/runtime/poll_fd.h"

namespace emio {

class DatagramSocket : public IoResource {
 public:
  DatagramSocket() = default;
  explicit DatagramSocket(PollFd source) : IoResource(std::move(source)) {}

  // Fixes the peer: try_send/try_recv then talk to it only.
  Error connect(const SocketAddress& peer);

  Result<size_t> try_send(std::span<const std::byte> datagram);
  Result<size_t> try_send_to(std::span<const std::byte> datagram, const SocketAddress& destination);
  Result<size_t> try_recv(std::span<std::byte> buffer);
  // `from` (if non-null) receives the sender's address.
  Result<size_t> try_recv_from(std::span<std::byte> buffer, SocketAddress* from);

  // Awaitables, Result<size_t>.
  auto send(std::span<const std::byte> datagram) {
    return make_io_op<Result<size_t>>(registration(), Direction::write,
                                      [this, datagram] { return try_send(datagram); });
  }
  auto send_to(std::span<const std::byte> datagram, const SocketAddress& destination) {
    return make_io_op<Result<size_t>>(registration(), Direction::write,
                                      [this, datagram, destination] { return try_send_to(datagram, destination); });
  }
  auto recv(std::span<std::byte> buffer) {
    return make_io_op<Result<size_t>>(registration(), Direction::read, [this, buffer] { return try_recv(buffer); });
  }
  auto recv_from(std::span<std::byte> buffer, SocketAddress* from) {
    return make_io_op<Result<size_t>>(registration(), Direction::read,
                                      [this, buffer, from] { return try_recv_from(buffer, from); });
  }

  Result<SocketAddress> local_address() const;

 protected:
  // socket(family, SOCK_DGRAM), bound to `address` unless it is empty (AF_UNSPEC), and registered.
  static Result<PollFd> open_source(Handle handle, int family, const SocketAddress& address);
};

class UdpSocket : public DatagramSocket {
 public:
  using DatagramSocket::DatagramSocket;
  // Bound to an IP address ("127.0.0.1:0" lets the kernel pick the port). Errors: EADDRINUSE, EINVAL
  // for a Unix address.
  static Result<UdpSocket> bind(Handle handle, const SocketAddress& address);
};

struct UnixDatagramPair;

class UnixDatagram : public DatagramSocket {
 public:
  using DatagramSocket::DatagramSocket;
  // Bound to a Unix path (which must not exist: EADDRINUSE) or an abstract name.
  static Result<UnixDatagram> bind(Handle handle, const SocketAddress& address);
  // Not bound: can send to bound sockets, but nobody can reply.
  static Result<UnixDatagram> unbound(Handle handle);
  // Two connected sockets (socketpair), both registered.
  static Result<UnixDatagramPair> pair(Handle handle);
};

struct UnixDatagramPair {
  UnixDatagram first;
  UnixDatagram second;
};

}  // namespace emio
