// SPDX-License-Identifier: MIT
// SocketAddress: an IPv4, IPv6 or Unix-domain socket address, parsed from the text a daemon's command
// line or config file holds. No name resolution (getaddrinfo blocks and allocates): numbers only.
//
//   "127.0.0.1:7000"   IPv4 and port
//   "[::1]:7000"       IPv6 in brackets and port (no zone index)
//   "/run/emio.sock"   a Unix socket path (anything starting with '/' or '.')
//   "@emio"            a Linux abstract Unix socket (no file; the '@' becomes the leading NUL)
//   "unix:PATH"        the same, spelled out
#pragma once

#include "emio/port/socket.h"  // sockaddr_storage and socklen_t, from Winsock on Windows

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

class SocketAddress {
 public:
  // Longest text format() writes, NUL included: a Unix path that needs its "unix:" prefix (5 bytes, and
  // up to 107 of sun_path's 108), longer than a full IPv6 address in brackets and a port.
  static constexpr size_t max_text_bytes = 113;

  SocketAddress() = default;

  // Errors: EINVAL for anything else (a host name, a missing or out-of-range port, stray characters),
  // ENAMETOOLONG for a Unix path longer than sun_path.
  static Result<SocketAddress> parse(std::string_view text);
  // A Unix-domain address for `path` ('@' first: abstract). Errors: EINVAL if empty, ENAMETOOLONG.
  static Result<SocketAddress> unix_path(std::string_view path);
  // Copies what accept(), recvfrom() or getsockname() filled in.
  static SocketAddress from_native(const sockaddr* address, socklen_t length);

  int family() const { return storage_.ss_family; }  // AF_INET, AF_INET6, AF_UNIX; AF_UNSPEC when empty
  bool is_ip() const { return family() == AF_INET || family() == AF_INET6; }
  bool is_unix() const { return family() == AF_UNIX; }
  // The port of an IP address; 0 otherwise.
  uint16_t port() const;

  const sockaddr* native() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t native_length() const { return length_; }

  // Writes the address as parse() reads it ("127.0.0.1:7000", "[::1]:7000", "/path", "@name", "unix:name"),
  // NUL-terminated and cut to fit; returns the length without the NUL. An unnamed Unix socket (a
  // socketpair end, a client that did not bind) has no name to parse back: it is written "(unnamed)",
  // which parse() refuses, as it refuses an empty address.
  size_t format(std::span<char> text) const;

  friend bool operator==(const SocketAddress& first, const SocketAddress& second);

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace emio
