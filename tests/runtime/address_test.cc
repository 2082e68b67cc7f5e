// SPDX-License-Identifier: MIT
// SocketAddress: the text forms a daemon's command line holds, and what it refuses.
#if !defined(_WIN32)
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include <cstring>
#include <string_view>

#include "emio/port/socket.h"
#include "emio/runtime/address.h"
#include "support/check.h"

#if defined(_WIN32)
#include <afunix.h>  // after winsock2.h (emio/port/socket.h), which it needs
#endif

using emio::SocketAddress;

namespace {

const char* formatted(const SocketAddress& address) {
  static char text[SocketAddress::max_text_bytes];
  (void)address.format(text);
  return text;
}

}  // namespace

TEST_GROUP(Address){};

TEST(Address, ParsesIpv4AndPort) {
  SocketAddress address = REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:7000"));
  CHECK_EQUAL(AF_INET, address.family());
  CHECK_EQUAL(7000, address.port());
  CHECK_EQUAL(sizeof(sockaddr_in), address.native_length());
}

TEST(Address, ParsesIpv6InBrackets) {
  SocketAddress address = REQUIRE_VALUE(SocketAddress::parse("[::1]:7000"));
  CHECK_EQUAL(AF_INET6, address.family());
  CHECK_EQUAL(7000, address.port());
}

TEST(Address, ParsesAUnixPath) {
  SocketAddress address = REQUIRE_VALUE(SocketAddress::parse("/run/emio.sock"));
  CHECK(address.is_unix());
  STRCMP_EQUAL("/run/emio.sock", reinterpret_cast<const sockaddr_un*>(address.native())->sun_path);
}

TEST(Address, ParsesTheUnixPrefix) {
  SocketAddress address = REQUIRE_VALUE(SocketAddress::parse("unix:relative.sock"));
  CHECK(address.is_unix());
  STRCMP_EQUAL("relative.sock", reinterpret_cast<const sockaddr_un*>(address.native())->sun_path);
}

TEST(Address, ParsesAnAbstractName) {
  SocketAddress address = REQUIRE_VALUE(SocketAddress::parse("@emio-test"));
  const auto* local = reinterpret_cast<const sockaddr_un*>(address.native());
  CHECK_EQUAL('\0', local->sun_path[0]);
  CHECK_EQUAL(offsetof(sockaddr_un, sun_path) + std::strlen("@emio-test"), address.native_length());
}

TEST(Address, FormatsIpv4AsItWasParsed) {
  STRCMP_EQUAL("127.0.0.1:7000", formatted(REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:7000"))));
}

TEST(Address, FormatsIpv6AsItWasParsed) {
  STRCMP_EQUAL("[::1]:7000", formatted(REQUIRE_VALUE(SocketAddress::parse("[::1]:7000"))));
}

TEST(Address, FormatsAnAbstractNameWithItsAt) {
  STRCMP_EQUAL("@emio-test", formatted(REQUIRE_VALUE(SocketAddress::parse("@emio-test"))));
}

TEST(Address, FormatCutsToTheBufferAndTerminates) {
  char text[6];
  CHECK_EQUAL(5u, REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:7000")).format(text));
  STRCMP_EQUAL("127.0", text);
}

TEST(Address, AcceptsTheHighestPort) {
  CHECK_EQUAL(65535, REQUIRE_VALUE(SocketAddress::parse("10.0.0.1:65535")).port());
}

TEST(Address, RefusesAMissingPort) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("127.0.0.1").error());
}
TEST(Address, RefusesAnEmptyPort) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("127.0.0.1:").error());
}
TEST(Address, RefusesAPortAbove65535) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("127.0.0.1:65536").error());
}
TEST(Address, RefusesASignedPort) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("127.0.0.1:+80").error());
}
TEST(Address, RefusesAHostName) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("localhost:7000").error());
}
TEST(Address, RefusesIpv6WithoutBrackets) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("::1:7000").error());
}
TEST(Address, RefusesABadIpv4) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("256.0.0.1:7000").error());
}
TEST(Address, RefusesEmptyText) { CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("").error()); }
TEST(Address, RefusesAnEmptyUnixPath) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("unix:").error());
}

TEST(Address, RefusesAUnixPathLongerThanSunPath) {
  char path[200];
  std::memset(path, 'a', sizeof path);
  path[0] = '/';
  CHECK_ERROR(emio::Error::from_errno(ENAMETOOLONG),
              SocketAddress::unix_path(std::string_view(path, sizeof path)).error());
}

// Found by the socket_address fuzz target (tests/fuzz/corpus/socket_address/nul-*): inet_pton stopped at
// the NUL and took the address before it; an abstract name with a NUL formatted back as a shorter one.
TEST(Address, RefusesANulInsideAnIpAddress) {
  using namespace std::string_view_literals;
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("127.0.0.1\0junk:80"sv).error());
}
TEST(Address, RefusesANulInsideAnAbstractName) {
  using namespace std::string_view_literals;
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::parse("@9\0"sv).error());
}
TEST(Address, RefusesANulInsideAUnixPath) {
  using namespace std::string_view_literals;
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SocketAddress::unix_path("/tmp/a\0b"sv).error());
}

// Found by the socket_address fuzz target (tests/fuzz/corpus/socket_address/relative-unix-path): "unix::x"
// formatted as ":x", which parses as no address at all.
TEST(Address, FormatsARelativeUnixPathWithItsPrefix) {
  STRCMP_EQUAL("unix::x", formatted(REQUIRE_VALUE(SocketAddress::parse("unix::x"))));
}
// Found by review: it was written "unix:", which reads as an empty relative path. Not on Windows: Winsock
// has no socketpair to make an unnamed Unix socket with.
#if !defined(_WIN32)
TEST(Address, FormatsAnUnnamedUnixSocketAsUnnamed) {
  int pair[2];
  CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
  sockaddr_storage native{};
  socklen_t length = sizeof native;
  CHECK_EQUAL(0, ::getsockname(pair[0], reinterpret_cast<sockaddr*>(&native), &length));
  ::close(pair[0]);
  ::close(pair[1]);
  const SocketAddress unnamed = SocketAddress::from_native(reinterpret_cast<const sockaddr*>(&native), length);
  STRCMP_EQUAL("(unnamed)", formatted(unnamed));
  CHECK_FALSE(SocketAddress::parse("(unnamed)").ok());
}
#endif

TEST(Address, FormatsTheLongestRelativeUnixPathWhole) {
  char text[5 + 107];
  std::memcpy(text, "unix:", 5);
  std::memset(text + 5, 'a', 107);
  const std::string_view longest(text, sizeof text);
  CHECK(std::string_view(formatted(REQUIRE_VALUE(SocketAddress::parse(longest)))) == longest);
}

TEST(Address, EqualAddressesCompareEqual) {
  CHECK(REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:1")) == REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:1")));
  CHECK_FALSE(REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:1")) == REQUIRE_VALUE(SocketAddress::parse("127.0.0.1:2")));
}
