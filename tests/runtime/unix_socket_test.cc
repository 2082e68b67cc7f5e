// SPDX-License-Identifier: MIT
// UnixStream, UnixListener and UnixDatagram: pairs, abstract names, filesystem paths, and errors.
#include <unistd.h>

#include <cstdio>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;
using emio::Result;
using emio::SocketAddress;
using emio::UnixDatagram;
using emio::UnixListener;
using emio::UnixStream;

namespace {

// A name no other test run shares.
SocketAddress unique_address(const char* prefix) {
  char text[80];
  std::snprintf(text, sizeof text, "%semio-test-%d", prefix, static_cast<int>(::getpid()));
  return REQUIRE_VALUE(SocketAddress::parse(text));
}

emio::Task<> accept_and_read(UnixListener& listener, char* received, Error& outcome) {
  Result<UnixStream> accepted = co_await listener.accept();
  if (!accepted.ok()) {
    outcome = accepted.error();
    co_return;
  }
  UnixStream stream = std::move(accepted.value());
  Result<size_t> got = co_await stream.read(std::as_writable_bytes(std::span(received, 15)));
  outcome = got.ok() ? Error{} : got.error();
}

emio::Task<> connect_and_send(SocketAddress address, Error& outcome) {
  Result<UnixStream> connected = co_await UnixStream::connect(address);
  if (!connected.ok()) {
    outcome = connected.error();
    co_return;
  }
  UnixStream stream = std::move(connected.value());
  Result<size_t> sent = co_await stream.write(emio_test::bytes_of("local"));
  outcome = sent.ok() ? Error{} : sent.error();
}

}  // namespace

TEST_GROUP(UnixSocket) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(emio_test::executor_config(4))); }

  Result<size_t> read_when_ready(UnixStream & stream, std::span<std::byte> buffer) {
    return emio_test::retry_while_would_block(executor, [&] { return stream.try_read(buffer); });
  }
  void exchange_over(const SocketAddress& address) {
    UnixListener listener = REQUIRE_TAKE(UnixListener::bind(executor.handle(), address));
    char received[16] = {};
    Error read = Error::shut_down;
    Error sent = Error::shut_down;
    Result<emio::TaskId> server = executor.spawn(accept_and_read(listener, received, read));
    CHECK(executor.spawn(connect_and_send(address, sent)).ok());
    emio_test::run_to_completion(executor, server);
    CHECK_OK(sent);
    CHECK_OK(read);
    STRCMP_EQUAL("local", received);
  }
};

TEST(UnixSocket, StreamPairExchangesBytes) {
  emio::UnixStreamPair pair = REQUIRE_TAKE(UnixStream::pair(executor.handle()));
  CHECK_EQUAL(4u, REQUIRE_VALUE(pair.first.try_write(emio_test::bytes_of("pair"))));
  std::byte buffer[8];
  CHECK_EQUAL(4u, REQUIRE_VALUE(read_when_ready(pair.second, buffer)));
}

TEST(UnixSocket, ListenerOnAnAbstractNameAcceptsAStream) { exchange_over(unique_address("@")); }

TEST(UnixSocket, ListenerOnAFilesystemPathAcceptsAStream) {
  const SocketAddress address = unique_address("/tmp/");
  char path[SocketAddress::max_text_bytes];
  (void)address.format(path);
  (void)::unlink(path);
  exchange_over(address);
  CHECK_EQUAL(0, ::unlink(path));
}

TEST(UnixSocket, BindingAnExistingPathFails) {
  const SocketAddress address = unique_address("/tmp/");
  char path[SocketAddress::max_text_bytes];
  (void)address.format(path);
  (void)::unlink(path);
  UnixListener first = REQUIRE_TAKE(UnixListener::bind(executor.handle(), address));
  CHECK_ERROR(emio::Error::from_errno(EADDRINUSE), UnixListener::bind(executor.handle(), address).error());
  CHECK_EQUAL(0, ::unlink(path));
}

TEST(UnixSocket, ConnectToAMissingPathFails) {
  CHECK_ERROR(emio::Error::from_errno(ENOENT),
              UnixStream::connect_start(executor.handle(), unique_address("/tmp/missing-")).error());
}

TEST(UnixSocket, StreamRefusesAnIpAddress) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL),
              UnixStream::connect_start(executor.handle(), emio_test::loopback_any_port()).error());
}

TEST(UnixSocket, DatagramPairKeepsDatagramBoundaries) {
  emio::UnixDatagramPair pair = REQUIRE_TAKE(UnixDatagram::pair(executor.handle()));
  CHECK_EQUAL(3u, REQUIRE_VALUE(pair.first.try_send(emio_test::bytes_of("one"))));
  CHECK_EQUAL(3u, REQUIRE_VALUE(pair.first.try_send(emio_test::bytes_of("two"))));
  std::byte buffer[16];
  CHECK_EQUAL(3u, REQUIRE_VALUE(pair.second.try_recv(buffer)));
  CHECK_EQUAL(3u, REQUIRE_VALUE(pair.second.try_recv(buffer)));
}

TEST(UnixSocket, BoundDatagramReceivesFromAnUnboundSender) {
  const SocketAddress address = unique_address("@dgram-");
  UnixDatagram receiver = REQUIRE_TAKE(UnixDatagram::bind(executor.handle(), address));
  UnixDatagram sender = REQUIRE_TAKE(UnixDatagram::unbound(executor.handle()));
  CHECK_EQUAL(5u, REQUIRE_VALUE(sender.try_send_to(emio_test::bytes_of("hello"), address)));
  std::byte buffer[16];
  CHECK_EQUAL(5u, REQUIRE_VALUE(receiver.try_recv(buffer)));
}
