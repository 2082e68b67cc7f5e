// SPDX-License-Identifier: MIT
// What the completion operations do on IOCP beyond the shared suite (tests/operations): the steps
// Winsock's extensions need (AcceptEx's and ConnectEx's context updates, ConnectEx's bound socket), a
// cancel racing its target's completion, and failures the overlapped calls report at once.
#include <chrono>
#include <cstring>
#include <thread>

#include "operations/operation_support.h"
#include "support/driver_fixture.h"

using emio::Operation;
using emio::OpSource;
using emio_test::bytes_of;
using emio_test::CompletionLog;
using emio_test::PendingRecv;
using emio_test::turn_until;

namespace {

// getsockname or getpeername, which must succeed.
sockaddr_in address_from(int (*call)(SOCKET, sockaddr*, int*), int fd) {
  sockaddr_in address{};
  int length = sizeof address;
  CHECK_EQUAL(0, call(emio::socket_of_fd(fd), reinterpret_cast<sockaddr*>(&address), &length));
  return address;
}
sockaddr_in local_address_of(int fd) { return address_from(::getsockname, fd); }
sockaddr_in peer_address_of(int fd) { return address_from(::getpeername, fd); }

void check_same_address(const sockaddr_in& expected, const sockaddr_in& actual) {
  CHECK_EQUAL(AF_INET, actual.sin_family);
  CHECK_EQUAL(expected.sin_addr.s_addr, actual.sin_addr.s_addr);
  CHECK_EQUAL(ntohs(expected.sin_port), ntohs(actual.sin_port));
}

}  // namespace

TEST_GROUP(IocpOperations) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::operations_config())); }
};

TEST(IocpOperations, AcceptedSocketKnowsItsPeerAndItsLocalAddress) {
  sockaddr_in listening{};
  emio::Fd listener_fd = emio_test::loopback_listener(listening);
  OpSource listener;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  sockaddr_in peer{};
  Operation accept;
  CompletionLog accepted;
  emio::prepare_accept(accept, listener, reinterpret_cast<sockaddr*>(&peer), sizeof peer, accepted.waker());
  CHECK_OK(driver.submit(accept));
  emio::Fd client = emio_test::connect_to_loopback(listening);
  CHECK(turn_until(driver, [&] { return accepted.calls > 0; }));
  CHECK_OK(accept.error());
  emio::Fd server_side(accept.result);
  // Without SO_UPDATE_ACCEPT_CONTEXT both calls fail on an AcceptEx socket (WSAENOTCONN).
  check_same_address(local_address_of(client.get()), peer_address_of(server_side.get()));
  check_same_address(listening, local_address_of(server_side.get()));
  check_same_address(local_address_of(client.get()), peer);
  CHECK_EQUAL(static_cast<int>(sizeof(sockaddr_in)), accept.address_length);
  CHECK_OK(driver.detach(listener));
}

TEST(IocpOperations, ConnectOnANeverBoundSocketBindsItAndConnects) {
  emio_test::PendingConnect pending;
  pending.start(driver);
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0; }));
  CHECK_OK(pending.connect.error());
  CHECK(local_address_of(pending.client_fd.get()).sin_port != 0);
  // Without SO_UPDATE_CONNECT_CONTEXT getpeername fails on a ConnectEx socket (WSAENOTCONN).
  check_same_address(pending.listening, peer_address_of(pending.client_fd.get()));
  CHECK_OK(driver.detach(pending.client));
}

TEST(IocpOperations, CancelRacingACompletionCompletesEachExactlyOnceAndLosesNoBytes) {
  PendingRecv pending;
  pending.start(driver);
  CHECK_EQUAL(5, emio_test::write_data(pending.pair.second.get(), "hello", 5));
  // No turn: the receive's packet is (most likely) queued, unseen, when the cancel comes.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Operation cancel;
  CompletionLog cancelled{&cancel};
  emio::prepare_cancel(cancel, pending.recv, cancelled.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0 && cancelled.calls > 0; }));
  for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(1, pending.done.calls);
  CHECK_EQUAL(1, cancelled.calls);
  if (pending.recv.error() == emio::Error::from_errno(ECANCELED)) {
    CHECK_OK(cancel.error());  // stopped in time: the bytes are still in the socket
  } else {
    CHECK_EQUAL(5, pending.recv.result);  // completed first: the cancel found nothing left to stop
    CHECK(cancel.error() == emio::Error::from_errno(ENOENT) || cancel.error() == emio::Error::from_errno(EALREADY));
  }
  CHECK_EQUAL(0u, driver.operations_in_flight());
  CHECK_OK(driver.detach(pending.source));
}

TEST(IocpOperations, ASecondCancelOfOneTargetSaysEalreadyAndTheFirstStopsIt) {
  PendingRecv pending;
  pending.start(driver);
  Operation first;
  Operation second;
  CompletionLog first_done{&first};
  CompletionLog second_done{&second};
  emio::prepare_cancel(first, pending.recv, first_done.waker());
  emio::prepare_cancel(second, pending.recv, second_done.waker());
  CHECK_OK(driver.submit(first));
  CHECK_OK(driver.submit(second));
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0 && first_done.calls > 0 && second_done.calls > 0; }));
  for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(1, pending.done.calls);
  CHECK_EQUAL(1, first_done.calls);
  CHECK_EQUAL(1, second_done.calls);
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), pending.recv.error());
  CHECK_OK(first.error());
  CHECK_ERROR(emio::Error::from_errno(EALREADY), second.error());
  CHECK_OK(driver.detach(pending.source));
}

namespace {

// A receive whose cancelled completion submits the same record again at once.
struct ReceiveAgainWhenCancelled {
  PendingRecv pending;
  int completions = 0;
  emio::Driver* driver = nullptr;

  static void on_complete(void* context) {
    auto& self = *static_cast<ReceiveAgainWhenCancelled*>(context);
    self.completions += 1;
    if (self.pending.recv.error() != emio::Error::from_errno(ECANCELED)) return;
    emio::prepare_recv(self.pending.recv, self.pending.source,
                       bytes_of(self.pending.buffer, sizeof self.pending.buffer), {on_complete, &self});
    CHECK_OK(self.driver->submit(self.pending.recv));
  }
};

}  // namespace

TEST(IocpOperations, ARecordResubmittedFromItsCancelledCompletionGetsOnlyItsOwnBytes) {
  ReceiveAgainWhenCancelled receiver;
  receiver.driver = &driver;
  CHECK_OK(driver.attach(receiver.pending.source, receiver.pending.pair.first.get()));
  emio::prepare_recv(receiver.pending.recv, receiver.pending.source,
                     bytes_of(receiver.pending.buffer, sizeof receiver.pending.buffer),
                     {ReceiveAgainWhenCancelled::on_complete, &receiver});
  CHECK_OK(driver.submit(receiver.pending.recv));
  CHECK(driver.turn(0).ok());
  Operation cancel;
  CompletionLog cancelled{&cancel};
  emio::prepare_cancel(cancel, receiver.pending.recv, cancelled.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return cancelled.calls > 0; }));
  CHECK_OK(cancel.error());
  CHECK_EQUAL(1, receiver.completions);
  CHECK(receiver.pending.recv.in_flight());  // the same record, submitted again
  CHECK_EQUAL(3, emio_test::write_data(receiver.pending.pair.second.get(), "new", 3));
  CHECK(turn_until(driver, [&] { return receiver.completions > 1; }));
  for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(2, receiver.completions);
  CHECK_EQUAL(3, receiver.pending.recv.result);
  STRCMP_EQUAL("new", receiver.pending.buffer);
  CHECK_OK(driver.detach(receiver.pending.source));
}

TEST(IocpOperations, AFailureTheCallReportsAtOnceCompletesInALaterTurnNotInsideSubmit) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  CHECK_EQUAL(0, emio_test::shut_down_writing(pair.first.get()));  // WSASend then fails at once (WSAESHUTDOWN)
  Operation send;
  CompletionLog done{&send};
  emio::prepare_send(send, source, bytes_of("lost"), done.waker());
  CHECK_OK(driver.submit(send));
  CHECK_EQUAL(0, done.calls);
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(1, done.calls);
  CHECK(send.result < 0);
  CHECK_OK(driver.detach(source));
}

TEST(IocpOperations, ARecvIsHandedToTheSystemAtSubmitNotQueuedForATurn) {
  CHECK(driver.runs_native_operations());
  PendingRecv pending;
  pending.start(driver);
  CHECK(pending.recv.state == emio::OpState::in_kernel);
  driver.shutdown();  // completes the record before it goes out of scope
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), pending.recv.error());
}

TEST(IocpOperations, APacketOfAnotherDriversOperationLeavesThisDriverAndThatOperationAlone) {
  PendingRecv foreign;  // outlives `other`, whose shutdown gives up on it (its packet comes to `driver`)
  CHECK_OK(driver.attach(foreign.source, foreign.pair.first.get()));  // the socket's port is this driver's
  {
    emio::Driver other;
    CHECK_OK(other.init(emio_test::operations_config()));
    foreign.start(other);  // Windows keeps the first port: this operation's packet comes to `driver`
    CHECK_EQUAL(2, emio_test::write_data(foreign.pair.second.get(), "hi", 2));
    for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(20).ok());
    CHECK_EQUAL(0, foreign.done.calls);  // not completed on a driver that does not hold it
    CHECK_EQUAL(0u, driver.operations_in_flight());
    PendingRecv own;
    own.start(driver);
    CHECK_EQUAL(3, emio_test::write_data(own.pair.second.get(), "own", 3));
    CHECK(turn_until(driver, [&] { return own.done.calls > 0; }));
    CHECK_EQUAL(3, own.recv.result);
    CHECK_OK(driver.detach(own.source));
  }  // `other` waits for the packet that went elsewhere, says so, and keeps the records it may reach
  for (int turn = 0; turn < 5; ++turn) CHECK(driver.turn(20).ok());
  CHECK_EQUAL(0, foreign.done.calls);
}

TEST(IocpOperations, ACancelOfAnOperationThatFailedAtOnceSaysEnoentAndTheTargetKeepsItsError) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  const int closed_fd = pair.first.release();
  emio_test::close_raw(closed_fd);  // WSARecv then fails at once (WSAENOTSOCK): its completion is posted
  char buffer[4] = {};
  Operation recv;
  CompletionLog received{&recv};
  emio::prepare_recv(recv, source, bytes_of(buffer, sizeof buffer), received.waker());
  CHECK_OK(driver.submit(recv));
  Operation cancel;
  CompletionLog cancelled{&cancel};
  emio::prepare_cancel(cancel, recv, cancelled.waker());
  CHECK_OK(driver.submit(cancel));
  CHECK(turn_until(driver, [&] { return received.calls > 0 && cancelled.calls > 0; }));
  CHECK_EQUAL(1, received.calls);
  CHECK_EQUAL(1, cancelled.calls);
  CHECK(recv.result < 0 && recv.error() != emio::Error::from_errno(ECANCELED));
  CHECK_ERROR(emio::Error::from_errno(ENOENT), cancel.error());
  CHECK_OK(driver.detach(source));
}

TEST(IocpOperations, ConnectOnASocketTheCallerBoundKeepsItsAddress) {
  sockaddr_in listening{};
  emio::Fd listener_fd = emio_test::loopback_listener(listening);
  emio::Fd client_fd(emio::socket_nonblocking(AF_INET, SOCK_STREAM));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQUAL(0, ::bind(emio::socket_of_fd(client_fd.get()), reinterpret_cast<const sockaddr*>(&local), sizeof local));
  const sockaddr_in bound = local_address_of(client_fd.get());
  OpSource client;
  CHECK_OK(driver.attach(client, client_fd.get()));
  Operation connect;
  CompletionLog done{&connect};
  emio::prepare_connect(connect, client, reinterpret_cast<const sockaddr*>(&listening), sizeof listening, done.waker());
  CHECK_OK(driver.submit(connect));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_OK(connect.error());
  check_same_address(bound, local_address_of(client_fd.get()));
  check_same_address(listening, peer_address_of(client_fd.get()));
  CHECK_OK(driver.detach(client));
}

TEST(IocpOperations, ConnectOfADatagramSocketSetsItsPeerAsConnectDoes) {
  emio::Fd receiver(emio::socket_nonblocking(AF_INET, SOCK_DGRAM));
  sockaddr_in any_port{};
  any_port.sin_family = AF_INET;
  any_port.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQUAL(
      0, ::bind(emio::socket_of_fd(receiver.get()), reinterpret_cast<const sockaddr*>(&any_port), sizeof any_port));
  const sockaddr_in receiving = local_address_of(receiver.get());
  emio::Fd sender_fd(emio::socket_nonblocking(AF_INET, SOCK_DGRAM));
  OpSource sender;
  CHECK_OK(driver.attach(sender, sender_fd.get()));
  Operation connect;
  CompletionLog done{&connect};
  emio::prepare_connect(connect, sender, reinterpret_cast<const sockaddr*>(&receiving), sizeof receiving, done.waker());
  CHECK_OK(driver.submit(connect));
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_OK(connect.error());
  check_same_address(receiving, peer_address_of(sender_fd.get()));
  CHECK_OK(driver.detach(sender));
}

TEST(IocpOperations, ShutdownWithAnAcceptInFlightClosesTheSocketMadeForTheConnection) {
  sockaddr_in listening{};
  emio::Fd listener_fd = emio_test::loopback_listener(listening);
  OpSource listener;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  CHECK(driver.turn(0).ok());
  const int handles_before = emio_test::settled_fd_count();
  Operation accept;
  CompletionLog accepted{&accept};
  emio::prepare_accept(accept, listener, nullptr, 0, accepted.waker());
  CHECK_OK(driver.submit(accept));
  CHECK(driver.turn(10).ok());
  driver.shutdown();
  CHECK_EQUAL(1, accepted.calls);
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), accept.error());
  CHECK_EQUAL(handles_before, emio_test::settled_fd_count());
}

TEST(IocpOperations, RecvOnAConnectionThePeerResetCompletesWithEconnreset) {
  PendingRecv pending;
  pending.start(driver);
  CHECK(driver.turn(10).ok());
  const linger abort_on_close{1, 0};  // closesocket then sends a reset, not a FIN
  CHECK_EQUAL(0, ::setsockopt(emio::socket_of_fd(pending.pair.second.get()), SOL_SOCKET, SO_LINGER,
                              reinterpret_cast<const char*>(&abort_on_close), sizeof abort_on_close));
  pending.pair.second.reset();
  CHECK(turn_until(driver, [&] { return pending.done.calls > 0; }));
  CHECK_EQUAL(1, pending.done.calls);
  CHECK_ERROR(emio::Error::from_errno(ECONNRESET), pending.recv.error());
  CHECK_OK(driver.detach(pending.source));
}

namespace {

char large_message[4 << 20];  // more than the socket's buffers hold: the send waits for the peer

}  // namespace

TEST(IocpOperations, SendWaitingOnAConnectionThePeerResetCompletesWithEconnresetOrEpipe) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  OpSource source;
  CHECK_OK(driver.attach(source, pair.first.get()));
  Operation send;
  CompletionLog done{&send};
  emio::prepare_send(send, source, bytes_of(large_message, sizeof large_message), done.waker());
  CHECK_OK(driver.submit(send));
  for (int turn = 0; turn < 3; ++turn) CHECK(driver.turn(10).ok());
  CHECK_EQUAL(0, done.calls);
  const linger abort_on_close{1, 0};
  CHECK_EQUAL(0, ::setsockopt(emio::socket_of_fd(pair.second.get()), SOL_SOCKET, SO_LINGER,
                              reinterpret_cast<const char*>(&abort_on_close), sizeof abort_on_close));
  pair.second.reset();
  CHECK(turn_until(driver, [&] { return done.calls > 0; }));
  CHECK_EQUAL(1, done.calls);
  CHECK(send.error() == emio::Error::from_errno(ECONNRESET) || send.error() == emio::Error::from_errno(EPIPE));
  CHECK_OK(driver.detach(source));
}

TEST(IocpOperations, AcceptOnAnIpv6ListenerReportsTheWholeIpv6PeerAddress) {
  emio::Fd listener_fd(emio::socket_nonblocking(AF_INET6, SOCK_STREAM));
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  if (::bind(emio::socket_of_fd(listener_fd.get()), reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback) !=
      0) {
    TEST_EXIT;  // no IPv6 loopback here
  }
  CHECK_EQUAL(0, ::listen(emio::socket_of_fd(listener_fd.get()), 4));
  sockaddr_in6 listening{};
  int length = sizeof listening;
  CHECK_EQUAL(0,
              ::getsockname(emio::socket_of_fd(listener_fd.get()), reinterpret_cast<sockaddr*>(&listening), &length));
  OpSource listener;
  CHECK_OK(driver.attach(listener, listener_fd.get()));
  sockaddr_in6 peer{};
  Operation accept;
  CompletionLog accepted{&accept};
  emio::prepare_accept(accept, listener, reinterpret_cast<sockaddr*>(&peer), sizeof peer, accepted.waker());
  CHECK_OK(driver.submit(accept));
  emio::Fd client(emio::fd_of_socket(::socket(AF_INET6, SOCK_STREAM, 0)));
  CHECK_EQUAL(
      0, ::connect(emio::socket_of_fd(client.get()), reinterpret_cast<const sockaddr*>(&listening), sizeof listening));
  CHECK(turn_until(driver, [&] { return accepted.calls > 0; }));
  CHECK_OK(accept.error());
  emio::Fd server_side(accept.result);
  sockaddr_in6 client_address{};
  length = sizeof client_address;
  CHECK_EQUAL(0,
              ::getsockname(emio::socket_of_fd(client.get()), reinterpret_cast<sockaddr*>(&client_address), &length));
  CHECK_EQUAL(static_cast<int>(sizeof(sockaddr_in6)), accept.address_length);
  CHECK_EQUAL(AF_INET6, peer.sin6_family);
  CHECK_EQUAL(ntohs(client_address.sin6_port), ntohs(peer.sin6_port));
  CHECK_EQUAL(0, std::memcmp(&client_address.sin6_addr, &peer.sin6_addr, sizeof peer.sin6_addr));
  CHECK_OK(driver.detach(listener));
}
