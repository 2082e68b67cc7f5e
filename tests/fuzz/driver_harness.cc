// SPDX-License-Identifier: MIT
#include "fuzz/driver_harness.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz/fuzz_check.h"

namespace emio_fuzz {
namespace {

void make_pair(bool socket, int fds[2]) {
  const int made = socket ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)
                          : ::pipe2(fds, O_NONBLOCK | O_CLOEXEC);
  FUZZ_CHECK(made == 0, "no fds for a channel (the fuzzer leaks them?)");
}

}  // namespace

void open_channel(Harness& harness, int channel) {
  const bool socket = channel >= channel_count / 2;
  int fds[2];
  for (int side = 0; side < 2; ++side) harness.ends[2 * channel + side].fd.reset();
  make_pair(socket, fds);
  for (int side = 0; side < 2; ++side) {
    End& end = harness.ends[2 * channel + side];
    end.fd.reset(fds[side]);
    end.pending_bytes = 0;
    end.reads = socket || side == 0;
    end.writes = socket || side == 1;
    end.registration = -1;
  }
}

void open_operations(Harness& harness) {
  int fds[2];
  make_pair(true, fds);
  harness.ops_local.reset(fds[0]);
  harness.ops_peer.reset(fds[1]);
  FUZZ_CHECK(harness.driver->attach(harness.source, fds[0]).ok(), "attach refused a socket");
}

size_t write_to(Harness& harness, int end, size_t count) {
  static constexpr std::byte filler[max_transfer_bytes] = {};
  const ssize_t written = ::write(harness.ends[end ^ 1].fd.get(), filler, count);
  return written > 0 ? static_cast<size_t>(written) : 0;
}

void drain(Harness& harness, int end) {
  std::byte sink[256];
  while (::read(harness.ends[end].fd.get(), sink, sizeof sink) > 0) {
  }
  harness.ends[end].pending_bytes = 0;
}

std::byte sequence_byte(uint64_t position) { return static_cast<std::byte>(position % 251); }

void feed_operations(Harness& harness, size_t count) {
  std::byte bytes[max_transfer_bytes];
  for (size_t i = 0; i < count; ++i) bytes[i] = sequence_byte(harness.sent_to_local + i);
  const ssize_t written = ::write(harness.ops_peer.get(), bytes, count);
  if (written > 0) harness.sent_to_local += static_cast<uint64_t>(written);
}

void drain_operations(Harness& harness) {
  std::byte bytes[256];
  for (;;) {
    const ssize_t got = ::read(harness.ops_peer.get(), bytes, sizeof bytes);
    if (got <= 0) return;
    for (ssize_t i = 0; i < got; ++i) {
      FUZZ_CHECK(bytes[i] == sequence_byte(harness.received_from_local++), "a send lost, doubled or reordered bytes");
    }
  }
}

}  // namespace emio_fuzz
