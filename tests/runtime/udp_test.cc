// SPDX-License-Identifier: MIT
// UdpSocket over loopback: datagrams with their sender, connected sockets, and errors.
#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;
using emio::Result;
using emio::SocketAddress;
using emio::Task;
using emio::UdpSocket;

namespace {

Task<> exchange(UdpSocket& sender, UdpSocket& receiver, char* received, Error& outcome) {
  Result<size_t> sent = co_await sender.send(emio_test::bytes_of("datagram"));
  if (!sent.ok()) {
    outcome = sent.error();
    co_return;
  }
  Result<size_t> got = co_await receiver.recv(std::as_writable_bytes(std::span(received, 15)));
  outcome = got.ok() ? Error{} : got.error();
}

}  // namespace

TEST_GROUP(Udp) {
  emio::Executor executor;
  UdpSocket first;
  UdpSocket second;
  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(2)));
    first = REQUIRE_TAKE(UdpSocket::bind(executor.handle(), emio_test::loopback_any_port()));
    second = REQUIRE_TAKE(UdpSocket::bind(executor.handle(), emio_test::loopback_any_port()));
  }
  Result<size_t> receive_when_ready(UdpSocket & socket, std::span<std::byte> buffer, SocketAddress * from) {
    return emio_test::retry_while_would_block(executor, [&] { return socket.try_recv_from(buffer, from); });
  }
};

TEST(Udp, DatagramArrivesWithItsSendersAddress) {
  CHECK_EQUAL(5u,
              REQUIRE_VALUE(first.try_send_to(emio_test::bytes_of("hello"), REQUIRE_VALUE(second.local_address()))));
  std::byte buffer[16];
  SocketAddress from;
  CHECK_EQUAL(5u, REQUIRE_VALUE(receive_when_ready(second, buffer, &from)));
  CHECK(from == REQUIRE_VALUE(first.local_address()));
}

TEST(Udp, ConnectedSocketsExchangeDatagramsWithAwaits) {
  CHECK_OK(first.connect(REQUIRE_VALUE(second.local_address())));
  CHECK_OK(second.connect(REQUIRE_VALUE(first.local_address())));
  char received[16] = {};
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(exchange(first, second, received, outcome));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  STRCMP_EQUAL("datagram", received);
}

TEST(Udp, ReceivingFromAnEmptySocketWouldBlock) {
  std::byte buffer[16];
  CHECK_ERROR(emio::would_block, first.try_recv(buffer).error());
}

TEST(Udp, BindingAnAddressInUseFails) {
  CHECK_ERROR(emio::Error::from_errno(EADDRINUSE),
              UdpSocket::bind(executor.handle(), REQUIRE_VALUE(first.local_address())).error());
}

TEST(Udp, BindingAUnixAddressIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL),
              UdpSocket::bind(executor.handle(), REQUIRE_VALUE(SocketAddress::parse("@emio"))).error());
}

// Not under wine: wine 8 does not report an ICMP port unreachable to a connected UDP socket, and the receive
// waits on (Windows reports it as WSAECONNRESET on the next call).
#if !defined(_WIN32)
TEST(Udp, ConnectedSocketLearnsThatNobodyListensAtItsPeer) {
  const SocketAddress gone = REQUIRE_VALUE(second.local_address());
  CHECK_OK(second.close());
  CHECK_OK(first.connect(gone));
  CHECK_EQUAL(1u, REQUIRE_VALUE(first.try_send(emio_test::bytes_of("x"))));
  std::byte buffer[4];
  // Loopback answers with ICMP port unreachable, which a connected socket reports on its next call.
  CHECK_ERROR(emio::Error::from_errno(ECONNREFUSED), receive_when_ready(first, buffer, nullptr).error());
}
#endif
