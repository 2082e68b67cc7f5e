// SPDX-License-Identifier: MIT
#include "ping_pong.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace emio_bench {

using emio::Error;

Error PingPong::open(uint32_t pair_count) {
  if (pair_count == 0 || pair_count > max_pairs) return Error::from_errno(EINVAL);
  for (uint32_t pair = 0; pair < pair_count; ++pair) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
      return Error::last_os_error();
    }
    endpoints_[size_t{2} * pair] = Endpoint{emio::Fd(fds[0]), pair};
    endpoints_[size_t{2} * pair + 1] = Endpoint{emio::Fd(fds[1]), pair};
  }
  pair_count_ = pair_count;
  return Error{};
}

Error PingPong::start(uint32_t round_trips) {
  if (round_trips == 0) return Error::from_errno(EINVAL);
  finished_pairs_ = 0;
  for (uint32_t pair = 0; pair < pair_count_; ++pair) {
    hops_left_[pair] = 2 * round_trips;
    if (Error error = send_message(endpoints_[size_t{2} * pair].fd.get()); error.failed()) return error;
  }
  return Error{};
}

Error PingPong::drain(Endpoint& endpoint) {
  for (;;) {
    const ssize_t received = ::read(endpoint.fd.get(), buffer_, sizeof buffer_);
    counters.reads += 1;
    if (received < 0) return errno == EAGAIN ? Error{} : Error::last_os_error();
    // A stream delivers a 64-byte write whole; anything else means the peer closed (0) or a bug.
    if (static_cast<size_t>(received) != message_bytes) return Error::from_errno(EPROTO);
    if (Error error = reply(endpoint); error.failed()) return error;
  }
}

Error PingPong::reply(Endpoint& endpoint) {
  uint32_t& hops_left = hops_left_[endpoint.pair_index];
  hops_left -= 1;
  if (hops_left == 0) {
    finished_pairs_ += 1;
    return Error{};
  }
  counters.writes += 1;
  return send_message(endpoint.fd.get());
}

Error PingPong::send_message(int fd) {
  const ssize_t sent = ::write(fd, buffer_, message_bytes);
  if (sent < 0) return Error::last_os_error();
  // One message in flight per pair never fills a socket buffer, so a short write is a bug.
  return static_cast<size_t>(sent) == message_bytes ? Error{} : Error::from_errno(EPROTO);
}

}  // namespace emio_bench
