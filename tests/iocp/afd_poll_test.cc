// SPDX-License-Identifier: MIT
// IOCTL_AFD_POLL through a completion port: what the IOCP backend's readiness half rests on, checked on
// its own (and under wine, which implements it).
#include "driver/src/afd_poll.h"

#include <ws2tcpip.h>

#include "support/check.h"

#include <CppUTest/TestHarness.h>

namespace {

constexpr ULONG_PTR afd_key = 7;

struct ConnectedPair {
  SOCKET client = INVALID_SOCKET;
  SOCKET server = INVALID_SOCKET;
};

// A loopback TCP connection (Windows has no socketpair).
ConnectedPair connect_pair() {
  ConnectedPair pair;
  SOCKET listener = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::closesocket(listener);
    return pair;
  }
  pair.client = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (::connect(pair.client, reinterpret_cast<sockaddr*>(&address), length) == 0) {
    pair.server = ::accept(listener, nullptr, nullptr);
  }
  ::closesocket(listener);
  return pair;
}

// Waits up to `timeout_ms` for one completion; nullptr when none came.
OVERLAPPED* wait_one(HANDLE port, DWORD timeout_ms, ULONG_PTR* key = nullptr) {
  OVERLAPPED_ENTRY entry{};
  ULONG count = 0;
  if (::GetQueuedCompletionStatusEx(port, &entry, 1, &count, timeout_ms, FALSE) == 0 || count == 0) return nullptr;
  if (key != nullptr) *key = entry.lpCompletionKey;
  return entry.lpOverlapped;
}

}  // namespace

TEST_GROUP(AfdPoll) {
  HANDLE port = nullptr;
  emio::AfdDevice afd;
  ConnectedPair pair;
  emio::AfdPollRequest request{};

  void setup() override {
    WSADATA data;
    CHECK_EQUAL(0, ::WSAStartup(MAKEWORD(2, 2), &data));
    port = ::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
    CHECK(port != nullptr);
    CHECK_OK(afd.open(port, afd_key));
    pair = connect_pair();
    CHECK(pair.server != INVALID_SOCKET);
  }
  void teardown() override {
    if (pair.client != INVALID_SOCKET) ::closesocket(pair.client);
    if (pair.server != INVALID_SOCKET) ::closesocket(pair.server);
    afd.close();
    ::CloseHandle(port);
    ::WSACleanup();
  }
  SOCKET base(SOCKET socket) {
    emio::Result<SOCKET> found = emio::base_socket_of(socket);
    CHECK_OK(found.ok() ? emio::Error{} : found.error());
    return found.value();
  }
  void send_byte() { CHECK_EQUAL(1, ::send(pair.client, "x", 1, 0)); }
};

TEST(AfdPoll, APollForReceiveWaitsUntilDataArrives) {
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_receive, request));
  POINTERS_EQUAL(nullptr, wait_one(port, 50));
  send_byte();
  ULONG_PTR key = 0;
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000, &key));
  CHECK_EQUAL(afd_key, key);
  CHECK(emio::afd_poll_events(request) & emio::afd_poll_receive);
}

TEST(AfdPoll, APollForSendOnAnEmptySendBufferCompletesAtOnce) {
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_send, request));
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000));
  CHECK(emio::afd_poll_events(request) & emio::afd_poll_send);
}

TEST(AfdPoll, APollCompletesOnceAndMustBeSentAgain) {
  send_byte();
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_receive, request));
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000));
  POINTERS_EQUAL(nullptr, wait_one(port, 50));  // the byte is still unread, yet no second completion
}

TEST(AfdPoll, ThePeerClosingIsReportedAsDisconnect) {
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_receive | emio::afd_poll_disconnect, request));
  ::closesocket(pair.client);
  pair.client = INVALID_SOCKET;
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000));
  CHECK(emio::afd_poll_events(request) & emio::afd_poll_disconnect);
}

TEST(AfdPoll, ACancelledPollStillCompletesWithNoEvents) {
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_receive, request));
  CHECK_OK(afd.cancel_poll(request));
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000));
  CHECK_EQUAL(0u, emio::afd_poll_events(request));
}

TEST(AfdPoll, CancellingACompletedPollSaysNotFound) {
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_send, request));
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000));
  CHECK(afd.cancel_poll(request) == emio::Error::from_errno(ENOENT));
}

TEST(AfdPoll, OneDeviceServesPollsOfManySockets) {
  ConnectedPair other = connect_pair();
  emio::AfdPollRequest other_request{};
  CHECK_OK(afd.start_poll(base(pair.server), emio::afd_poll_receive, request));
  CHECK_OK(afd.start_poll(base(other.server), emio::afd_poll_receive, other_request));
  CHECK_EQUAL(1, ::send(other.client, "y", 1, 0));
  POINTERS_EQUAL(&other_request.status_block, wait_one(port, 5000));
  POINTERS_EQUAL(nullptr, wait_one(port, 50));
  ::closesocket(other.client);
  ::closesocket(other.server);  // ends its poll, if any were left, with LOCAL_CLOSE
  CHECK_OK(afd.cancel_poll(request));
  POINTERS_EQUAL(&request.status_block, wait_one(port, 5000));
}
